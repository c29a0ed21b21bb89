"""Cost reports: a report model built from the analytics API, rendered to HTML, Markdown and
JSON with charts, sent on schedule through the outbox of `notify/`."""
