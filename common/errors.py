"""The error every domain service raises when it refuses a request."""


class ServiceError(ValueError):
    """A request a service cannot honour; the message says why and is safe to show the user."""
