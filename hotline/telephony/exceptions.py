"""Errors from Asterisk, as domain exceptions (never ``web.HTTP*``)."""

from __future__ import annotations

from typing import Any

from hotline.errors import HotlineError

__all__ = ["HotlineError"]


class AriError(HotlineError):
    error_id = "ari-error"
    status = 502

    def __init__(self, message: str = "", *, http_status: int = 0, **details: Any) -> None:
        super().__init__(message, http_status=http_status, **details)
        self.http_status = http_status


class AriNotFound(AriError):
    """The channel, bridge, playback or recording is gone (often it raced a hangup)."""

    error_id = "ari-not-found"
    status = 404


class AriConflict(AriError):
    error_id = "ari-conflict"
    status = 409


class AriAuthError(AriError):
    error_id = "ari-unauthorized"
    status = 502


class AriServerError(AriError):
    """Asterisk answered 5xx, e.g. 500 "Allocation failed" for an unknown endpoint."""

    error_id = "ari-server-error"
    status = 502


class AriUnavailable(AriError):
    """Asterisk could not be reached at all."""

    error_id = "ari-unavailable"
    status = 503


class MalformedEvent(HotlineError):
    error_id = "ari-malformed-event"
    status = 400


class AmiError(HotlineError):
    error_id = "ami-error"
    status = 502


class CallControlRefused(HotlineError):
    """An operator's call control that does not fit the call as it stands (not their call,
    not connected, or a control this call cannot take)."""

    error_id = "call-control-refused"
    status = 409


class ControlUnavailable(HotlineError):
    """The server that holds the call did not answer a desk's control in time (it is down,
    or stuck); nothing was changed that the desk was not told about."""

    error_id = "call-control-unavailable"
    status = 503
