"""Tests against real components: the Flask app and its Socket.IO, SQLite/PostgreSQL, Redis/Celery,
the RTSP server, VSION server processes and the command lines."""
