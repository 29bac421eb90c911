"""The database: the SQLAlchemy handle (``base``), the tables (``models``) and their migrations (``migrate``).

The services of ``accounts``, ``workcards`` and ``takes`` use it; nothing here knows the web.
"""
