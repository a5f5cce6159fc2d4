"""The one root of every error a user or client can cause, and the kinds each domain subclasses.

Each error carries the HTTP status the app answers with and a stable machine `code` that
clients may branch on. Its message is English; an error built from values passes an English
template marked `N_` and the values (`InvalidUpload(N_("this file is a %(kind)s"), kind=...)`),
so that a page can show it in the reader's language (`translated`) while the JSON API keeps
the English sentence. A domain's own errors subclass
its base (e.g. `LicensingError`) and one of these kinds, which gives the status: the domain base
itself sets neither, so the kind decides. The app maps the whole tree in one place.
"""

from __future__ import annotations

from typing import ClassVar

from registry.messages import Message, Param, Translator


class CopymarkError(Exception):
    """Root of expected failures: a 4xx (or 503) with a message a user can act on."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, /, **params: Param) -> None:
        self.wording = Message(message, params)
        self.message = self.wording.english()
        super().__init__(self.message)

    def translated(self, translate: Translator) -> str:
        """The message in `translate`'s language; as written when the catalogs lack it."""
        return self.wording.render(translate)


class BadRequest(CopymarkError):
    """The request is malformed in a way no more specific kind names."""


class Unauthorized(CopymarkError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CopymarkError):
    status_code = 403
    code = "forbidden"


class NotFound(CopymarkError):
    status_code = 404
    code = "not_found"


class Conflict(CopymarkError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(CopymarkError):
    status_code = 413
    code = "payload_too_large"


class Invalid(CopymarkError):
    """Well-formed, but breaks a rule of the domain."""

    status_code = 422
    code = "invalid"


class TooManyRequests(CopymarkError):
    """The client must wait before trying again; the app sends Retry-After with the seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, /, retry_after_s: int, **params: Param) -> None:
        super().__init__(message, **params)
        self.retry_after_s = max(1, retry_after_s)


class Unavailable(CopymarkError):
    """The service cannot answer now; the client may retry."""

    status_code = 503
    code = "unavailable"


class Overloaded(Unavailable):
    """The server has more work in hand than it can answer soon; the app sends Retry-After."""

    code = "overloaded"

    def __init__(self, message: str, /, retry_after_s: int, **params: Param) -> None:
        super().__init__(message, **params)
        self.retry_after_s = max(1, retry_after_s)


class StorageFault(CopymarkError):
    """Stored state the answer depends on is damaged: an operator must look, not the client."""

    status_code = 500
    code = "storage_fault"


class InvalidUpload(Invalid):
    code = "invalid_upload"


class CertificateError(Invalid, ValueError):
    """A certificate cannot be built, rendered or checked from what was given."""

    code = "certificate_invalid"
