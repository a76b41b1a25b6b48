"""Persistent state: the content-addressed blob store and the SQLite database."""
