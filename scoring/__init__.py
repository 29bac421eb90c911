"""Pure scoring of 3D motion: how close an attempt is to its reference, and how safe a posture is.

Nothing here imports Flask, SQLAlchemy, threads, settings or the database.
"""
