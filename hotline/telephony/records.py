"""The contracts other domains read about calls: the record a finished call leaves, and the
channel ids of the speech-recognition taps. Pure: no I/O, no adapter imports."""

from __future__ import annotations

from dataclasses import dataclass

TAP_PREFIXES = ("snoop-", "asr-")  # channel ids of the speech-recognition taps
COACH_PREFIX = "coach-"  # a supervisor coaching a call: their phone, snoop and bridge


@dataclass
class CallSummary:
    """What the records keep of a finished call (written to SQL off the call path)."""

    call_id: str
    line: str
    caller: str
    started_at: float  # epoch seconds
    ended_at: float = 0.0
    answered_at: float | None = None
    operator_id: str = ""
    outcome: str = "ended"  # answered, abandoned, transferred, fallback, ended
    wait_s: float | None = None
    talk_s: float | None = None
    recording: str = ""
    queue: str = ""  # the queue it waited in (the line's skill, or the IVR flow's choice)
    description: str = ""  # the caller's own words recorded while waiting (for ASR)
    stars: int | None = None  # post-call rating, 5 very satisfied … 1 very unsatisfied
    callback: bool = False
    hold_s: float | None = None  # time the operator held the caller (within talk_s)
    transfer_to: str = ""  # the number a transferred call was handed to
    transcript: str = ""  # JSON segments, when speech recognition ran
    transcript_status: str = ""  # done | partial | pending (post-call from the recording)
    draft: str = ""  # the pre-filled ticket, JSON


@dataclass(frozen=True)
class Ringing:
    """A seat is being rung for a call: what the operator's panel shows before answering."""

    call_id: str
    operator_id: str
    line: str
    caller: str
    queue: str
    ivr_path: tuple[str, ...]
    enqueued_at: float  # epoch seconds; 0 when not known
    at: float
