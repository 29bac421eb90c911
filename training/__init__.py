"""Users, work cards, takes and comparisons: SQLAlchemy models and the services that use them.

No Flask routes live here; the web layer calls these services.
"""
