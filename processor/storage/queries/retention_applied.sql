SELECT table_name, days FROM retention_applied FINAL
