"""The base of every domain error; one middleware turns them into JSON responses."""

from __future__ import annotations

from typing import Any


class HotlineError(Exception):
    """Base of every domain error: an id, details and the HTTP status it maps to."""

    error_id = "hotline-error"
    status = 500

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.error_id)
        self.message = message or self.error_id
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}


class Unauthorized(HotlineError):
    """No credentials, or credentials nobody issued."""

    error_id = "unauthorized"
    status = 401


class Forbidden(HotlineError):
    """The actor is known but their role may not do this."""

    error_id = "forbidden"
    status = 403
