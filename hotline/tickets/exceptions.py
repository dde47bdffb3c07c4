"""Ticket errors: each names what was refused and why, and maps to an HTTP status."""

from __future__ import annotations

from typing import Any

from hotline import errors
from hotline.errors import HotlineError


class TicketError(HotlineError):
    error_id = "ticket-error"
    status = 400


class IllegalTransition(TicketError):
    """The action is not allowed in the ticket's current status."""

    error_id = "ticket-illegal-transition"
    status = 409

    def __init__(self, status: str, action: str, reason: str = "", **details: Any) -> None:
        text = f"cannot {action} a ticket that is {status}"
        if reason:
            text += f": {reason}"
        super().__init__(text, status=status, action=action, **details)


class Forbidden(TicketError, errors.Forbidden):
    error_id = "ticket-forbidden"
    status = 403


class InvalidInput(TicketError):
    error_id = "ticket-invalid"
    status = 422


class TicketNotFound(TicketError):
    error_id = "ticket-not-found"
    status = 404


class StaleTicket(TicketError):
    """Someone else changed the ticket since it was read (optimistic locking)."""

    error_id = "ticket-stale"
    status = 409


Unauthorized = errors.Unauthorized
