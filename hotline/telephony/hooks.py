"""What other domains do at points of a call, handed to the controller when it is built.

The composition root fills one :class:`CallHooks` as it builds the routing, ticket and speech
domains, then builds the controller with it; nothing is assigned onto the controller
afterwards. A hook may also be handed from one domain to another (the queue's
``on_description_draft`` to speech, which is built after it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .records import CallSummary, Ringing


@dataclass
class CallHooks:
    # the finished call's record (written off the call path)
    on_call_end: Callable[[CallSummary], None] | None = None
    # (call id, caller's channel, operator's channel, operator id) once bridged
    on_connected: Callable[[str, str, str, str], None] | None = None
    # (call id, recording name) when the caller's description has been recorded
    on_description: Callable[[str, str], None] | None = None
    # (call id, draft as JSON) once that description is transcribed: the queue acts on it
    on_description_draft: Callable[[str, Mapping[str, Any]], Awaitable[object]] | None = None
    # the caller's post-call rating, to attach to the call's tickets
    on_rating: Callable[[CallSummary], Awaitable[None]] | None = None
    # a seat is being rung for the call (the operator desk's panel pops)
    on_ringing: Callable[[Ringing], Awaitable[None]] | None = None
    # a ticket's status for the IVR's self-service read-back (None: no such ticket)
    ticket_status: Callable[[str], Awaitable[str | None]] | None = None

    def call_ended(self, summary: CallSummary) -> None:
        if self.on_call_end is not None:
            self.on_call_end(summary)
