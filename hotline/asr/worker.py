"""An ASR worker: a process that owns Vosk recognisers, one per audio stream.

The server talks to each worker over a Unix socket pair. Server → worker: binary frames
``kind (1 byte), stream id (4), length (4), payload``. Worker → server: JSON lines, each
``{"ack": {stream id: bytes of audio consumed}, "r": [results]}``. A result is a partial or
final piece of text with its stream times, a stream's ``closed`` notice, or an ``error``.

Audio passes a voice-activity gate first, so silence costs a few microseconds per frame and
never reaches the decoder; each utterance ends with ``FinalResult`` when the gate closes.

The host (``python -m hotline.asr.worker``) loads the model once and forks the workers
(``--share fork``: pages shared copy-on-write), or forks first and loads one model per worker
(``--share none``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .draft import join_words
from .vad import AUDIO, END, START, Gate, VadConfig
from .vocab import UNKNOWN, grammar

FRAME = struct.Struct("!BII")
OPEN, AUDIO_MSG, FINISH, CLOSE = 1, 2, 3, 4
PARTIAL_EVERY_S = 0.3
ACK_EVERY_S = 0.1

Result = dict[str, Any]


@dataclass
class StreamDecoder:
    """One stream: gate → recogniser → results with times on the stream's own clock."""

    sid: int
    recogniser_factory: Callable[[], Any]
    rate: int = 16000
    vad: VadConfig = field(default_factory=VadConfig)
    clock: Callable[[], float] = time.monotonic
    gate: Gate = field(init=False)
    rec: Any = None
    decoded_samples: int = 0
    _utt_start: int = 0  # stream sample where the current utterance's audio begins
    _utt_rec_base: int = 0  # recogniser samples fed before it
    _partial: str = ""
    _partial_at: float = 0.0
    _partial_start: float = 0.0
    _chunk: bytearray = field(default_factory=bytearray)  # audio not yet given to Vosk

    def __post_init__(self) -> None:
        self.gate = Gate(self.rate, self.vad)

    def audio(self, pcm: bytes) -> list[Result]:
        return self._apply(self.gate.push(pcm))

    def finish(self) -> list[Result]:
        return self._apply(self.gate.finish())

    def _apply(self, events: list[tuple[str, bytes | int]]) -> list[Result]:
        out: list[Result] = []
        for kind, value in events:
            if kind == START:
                assert isinstance(value, int)
                if self.rec is None:
                    self.rec = self.recogniser_factory()
                self._utt_start, self._utt_rec_base = value, self.decoded_samples
                self._partial_start = value / self.rate
            elif kind == AUDIO:
                assert isinstance(value, bytes)
                self._chunk += value
                if len(self._chunk) >= self.rate // 5:  # 100 ms: fewer, larger calls
                    self._feed(bytes(self._chunk), out)
                    self._chunk.clear()
            elif kind == END and self.rec is not None:
                if self._chunk:
                    self._feed(bytes(self._chunk), out)
                    self._chunk.clear()
                self._final(json.loads(self.rec.FinalResult()), out)
                self._partial = ""
        return out

    def _feed(self, pcm: bytes, out: list[Result]) -> None:
        self.decoded_samples += len(pcm) // 2
        if self.rec.AcceptWaveform(pcm):
            self._final(json.loads(self.rec.Result()), out)
            self._partial = ""
            return
        now = self.clock()
        if now - self._partial_at < PARTIAL_EVERY_S:
            return
        text = _text(json.loads(self.rec.PartialResult()).get("partial", ""))
        if text and text != self._partial:
            self._partial, self._partial_at = text, now
            end = self._stream_time(self.decoded_samples)
            out.append(self._result("partial", text, self._partial_start, end))

    def _final(self, res: dict[str, Any], out: list[Result]) -> None:
        words = [w for w in res.get("result") or () if w["word"] != UNKNOWN]
        text = _text(res.get("text", ""))
        if not text:
            return
        shift = self._utt_start / self.rate - self._utt_rec_base / self.rate
        timed = [
            [w["word"], round(w["start"] + shift, 2), round(w["end"] + shift, 2), w.get("conf", 0)]
            for w in words
        ]
        start = timed[0][1] if timed else self._utt_start / self.rate
        end = timed[-1][2] if timed else self._stream_time(self.decoded_samples)
        r = self._result("final", text, start, end)
        r["words"] = timed
        out.append(r)
        self._partial_start = end

    def closing(self) -> Result:
        """The stream's figures when it closes: audio heard, speech decoded."""
        speech = self.gate.speech_frames * self.gate.frame_bytes // 2 / self.rate
        return {
            "sid": self.sid,
            "type": "closed",
            "speech_s": round(speech, 2),
            "audio_s": round(self.gate.position / self.rate, 2),
        }

    def _stream_time(self, rec_samples: int) -> float:
        return (self._utt_start + rec_samples - self._utt_rec_base) / self.rate

    def _result(self, kind: str, text: str, start: float, end: float) -> Result:
        return {
            "sid": self.sid,
            "type": kind,
            "text": text,
            "start": round(start, 2),
            "end": round(end, 2),
        }


def _text(vosk_text: str) -> str:
    """Vosk's words without its spaces between Chinese words and without [unk]."""
    return join_words(" ".join(w for w in vosk_text.split() if w != UNKNOWN))


def known(model: Any, word: str) -> bool:
    return bool(model.vosk_model_find_word(word) >= 0)


def recogniser_factory(model: Any, rate: int, grammar: list[str] | None) -> Callable[[], Any]:
    from vosk import KaldiRecognizer

    def make() -> Any:
        if grammar:
            rec = KaldiRecognizer(model, rate, json.dumps(grammar, ensure_ascii=False))
        else:
            rec = KaldiRecognizer(model, rate)
        rec.SetWords(True)
        return rec

    return make


class Connection:
    """The worker's end of the socket: framed reads, JSON-line writes flushed before any
    read would block, so the server's view of the backlog is never stale while it waits."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.results: list[Result] = []
        self.acked: dict[int, int] = {}
        self.flushed_at = time.monotonic()

    def read(self) -> tuple[int, int, bytes] | None:
        need = FRAME.size
        while True:
            if len(self.buf) >= need:
                kind, sid, n = FRAME.unpack_from(self.buf)
                if len(self.buf) >= FRAME.size + n:
                    if time.monotonic() - self.flushed_at > ACK_EVERY_S:
                        self.flush()  # a long burst: keep the server's view of the lag fresh
                    payload = bytes(self.buf[FRAME.size : FRAME.size + n])
                    del self.buf[: FRAME.size + n]
                    return kind, sid, payload
                need = FRAME.size + n
            self.flush()
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buf += chunk

    def flush(self) -> None:
        if self.results or self.acked:
            line = json.dumps({"ack": self.acked, "r": self.results}, ensure_ascii=False)
            self.sock.sendall(line.encode() + b"\n")
            self.results, self.acked = [], {}
        self.flushed_at = time.monotonic()


def serve(model: Any, sock: socket.socket) -> None:
    sock.sendall(b'{"ready": true}\n')  # the model is loaded: the server may send audio
    conn = Connection(sock)
    streams: dict[int, StreamDecoder] = {}
    while (msg := conn.read()) is not None:
        kind, sid, payload = msg
        try:
            if kind == OPEN:
                opts = json.loads(payload or b"{}")
                rate = int(opts.get("rate", 16000))
                words = opts.get("grammar")
                if opts.get("phrases"):
                    words, missing = grammar(opts["phrases"], lambda w: known(model, w))
                    if missing:
                        conn.results.append({"sid": sid, "type": "vocabulary", "missing": missing})
                make = recogniser_factory(model, rate, words)
                streams[sid] = StreamDecoder(sid, make, rate)
            elif kind == AUDIO_MSG:
                conn.acked[sid] = conn.acked.get(sid, 0) + len(payload)
                if sid in streams:
                    conn.results += streams[sid].audio(payload)
            elif kind in (FINISH, CLOSE) and sid in streams:
                conn.results += streams[sid].finish()
                if kind == CLOSE:
                    conn.results.append(streams.pop(sid).closing())
        except Exception as exc:  # one bad stream must not take the others down
            streams.pop(sid, None)
            conn.results.append({"sid": sid, "type": "error", "error": repr(exc)})
    conn.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Vosk worker host (started by the server)")
    p.add_argument("--model", required=True)
    p.add_argument("--fds", required=True, help="comma-separated socket descriptors")
    p.add_argument("--share", choices=("fork", "none"), default="fork")
    args = p.parse_args(argv)
    # Ctrl-C reaches the whole process group; the server stops its workers itself (by
    # closing their sockets), so a worker must not die of it and be replaced mid-shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    fds = [int(f) for f in args.fds.split(",")]
    model = Model(args.model) if args.share == "fork" else None
    children = []
    for fd in fds:
        pid = os.fork()
        if pid == 0:
            for other in fds:
                if other != fd:
                    os.close(other)
            code = 0
            try:
                serve(model or Model(args.model), socket.socket(fileno=fd))
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    for fd in fds:
        os.close(fd)
    del model
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
