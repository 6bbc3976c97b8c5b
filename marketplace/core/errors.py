"""The two ways a rule says no. Mapped once at the edge: ServiceError → 422, NotFound → 404."""
from __future__ import annotations


class ServiceError(ValueError):
    """A rule refused the action; the message is shown to the user as is (French).

    ``field`` names the form field the message belongs to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(LookupError):
    """The object does not exist for whoever asks (answered 404, never 403: no existence leak)."""
