"""Voice-activity gating: only speech reaches the recogniser.

An energy detector in 20 ms frames against a noise floor: the quietest frame of the last
few seconds (a sliding minimum), so steady noise is the floor and only sound rising
``margin_db`` above it counts. Speech starts after
``onset`` loud frames (with ``preroll`` of audio before it, so the first syllable is kept),
and ends after ``hangover`` of quiet, which is also fed so the recogniser can place the end
of the last word; then the gate reports the end of the utterance. Continuous sound longer
than ``max_utterance_s`` is cut into utterances. Pure: samples in, decisions out.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class VadConfig:
    margin_db: float = 10.0  # above the noise floor
    min_db: float = -50.0  # absolute floor (dBFS) below which nothing is speech
    onset_frames: int = 3
    preroll_frames: int = 15  # 300 ms
    hangover_frames: int = 30  # 600 ms
    floor_window: int = 250  # frames (5 s) over which the floor is the quietest frame
    max_utterance_s: float = 20.0


START, AUDIO, END = "start", "audio", "end"
GateEvent = tuple[str, bytes | int]
"""(START, stream sample where the utterance's audio begins) | (AUDIO, pcm to feed) |
(END, 0): the utterance is over, finalise it. In stream order."""


def frame_db(frame: bytes) -> float:
    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    if x.size == 0:
        return -120.0
    power = float(np.mean(x * x)) / (32768.0 * 32768.0)
    return 10.0 * float(np.log10(power + 1e-12))


@dataclass
class Gate:
    """Splits one stream's 16-bit little-endian audio into utterances."""

    rate: int = 16000
    cfg: VadConfig = field(default_factory=VadConfig)
    position: int = 0  # samples seen
    speech_frames: int = 0  # frames fed in all (for the figures)
    _frame_no: int = 0
    # Until a window of audio has been heard the floor is assumed quiet (-60 dBFS), so a
    # stream that starts mid-sentence is still heard.
    _mins: collections.deque[tuple[int, float]] = field(
        default_factory=lambda: collections.deque([(0, -60.0)])
    )
    _loud: int = 0
    _quiet: int = 0
    _in_speech: bool = False
    _utt_frames: int = 0
    _pending: bytes = b""
    _preroll: collections.deque[bytes] = field(default_factory=collections.deque)

    @property
    def frame_bytes(self) -> int:
        return 2 * self.rate // 50

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def push(self, pcm: bytes) -> list[GateEvent]:
        out: list[GateEvent] = []
        data = self._pending + pcm
        n = self.frame_bytes
        whole = len(data) - len(data) % n
        self._pending = data[whole:]
        for i in range(0, whole, n):
            self._frame(data[i : i + n], out)
        return out

    def finish(self) -> list[GateEvent]:
        """The stream ended or went quiet: close any open utterance."""
        out: list[GateEvent] = []
        if self._pending:
            self._frame(self._pending.ljust(self.frame_bytes, b"\x00"), out)
            self._pending = b""
        if self._in_speech:
            self._close(out)
        return out

    def _frame(self, frame: bytes, out: list[GateEvent]) -> None:
        cfg = self.cfg
        db = frame_db(frame)
        loud = db > max(self._floor(db), cfg.min_db)
        samples = len(frame) // 2
        if self._in_speech:
            out.append((AUDIO, frame))
            self.speech_frames += 1
            self._utt_frames += 1
            self._quiet = 0 if loud else self._quiet + 1
            too_long = self._utt_frames * samples >= cfg.max_utterance_s * self.rate
            if self._quiet >= cfg.hangover_frames or too_long:
                self._close(out)
        else:
            self._loud = self._loud + 1 if loud else 0
            self._preroll.append(frame)
            if len(self._preroll) > cfg.preroll_frames:
                self._preroll.popleft()
            if self._loud >= cfg.onset_frames:
                self._in_speech = True
                self._quiet = self._loud = 0
                held = list(self._preroll)
                self._preroll.clear()
                out.append((START, self.position + samples - sum(len(f) for f in held) // 2))
                out.extend((AUDIO, f) for f in held)
                self.speech_frames += len(held)
                self._utt_frames = len(held)
        self.position += samples

    def _floor(self, db: float) -> float:
        """Sliding minimum of frame levels (a monotonic queue) plus the margin."""
        n = self._frame_no = self._frame_no + 1
        mins = self._mins
        while mins and mins[-1][1] >= db:
            mins.pop()
        mins.append((n, db))
        if mins[0][0] <= n - self.cfg.floor_window:
            mins.popleft()
        return mins[0][1] + self.cfg.margin_db

    def _close(self, out: list[GateEvent]) -> None:
        self._in_speech = False
        self._quiet = self._loud = self._utt_frames = 0
        out.append((END, 0))
