"""Accounts: users and their sign-in sessions (``users``), the audit log (``audit``), who may
do what (``policy``), and the payloads of user administration (``schemas``)."""
