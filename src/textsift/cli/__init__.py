"""The `textsift` command: app.py is the entry point, and each other module is one verb's thin command."""
