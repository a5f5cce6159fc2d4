"""Domain errors a user can cause; each carries the HTTP status the API answers with."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of expected failures; the message is shown to the user as is."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    status_code = 404


class Unauthorized(RegistryError):
    status_code = 401


class Forbidden(RegistryError):
    status_code = 403


class Conflict(RegistryError):
    status_code = 409


class InvalidUpload(RegistryError):
    status_code = 422


class PayloadTooLarge(RegistryError):
    status_code = 413
