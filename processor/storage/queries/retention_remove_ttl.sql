-- Keep the rows of $table (from the fixed list in storage/retention.py) forever.
ALTER TABLE $table REMOVE TTL
