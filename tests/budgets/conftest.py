"""The budget tests use the local webhook receiver and SMTP server of tests/conftest.py."""
