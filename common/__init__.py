"""Small helpers every VSION package may use: atomic file writes, payload validation messages.

Pure: nothing here imports Flask, SQLAlchemy, threads, settings or the database.
"""
