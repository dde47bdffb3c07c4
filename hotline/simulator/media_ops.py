"""The stand-in's playbacks and recordings: a playback queues on the channel and plays each
media in turn (a sound with no file in the channel's language fails it); a recording holds
the channel's commands until it stops, and is written as 8 kHz WAV when the stand-in has a
folder for them."""

# mypy: disable-error-code="misc"
# (A mixin of SimAsterisk annotates self as SimAsterisk, so its attribute use is checked;
# mypy calls such a self type "not a supertype" under the misc code.)
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .media import say_files

if TYPE_CHECKING:
    from .model import SimAsterisk

from .state import Json, SimChannel, SimError

log = logging.getLogger(__name__)


class MediaOps:
    """Part of :class:`~.model.SimAsterisk` (a mixin: the state lives there)."""

    def play(
        self: SimAsterisk, channel_id: str, media: str, playback_id: str | None, lang: str = ""
    ) -> Json:
        """Queue a playback on the channel (its REST reply comes at once, ``queued``); it
        starts when the channel's earlier commands are done."""
        ch = self._stasis_channel(channel_id)
        pb_id = playback_id or f"pb-{self.rng.getrandbits(32):08x}"
        if pb_id in self.playbacks:
            raise SimError(409, "Playback with the same id already exists")
        pb = {
            "id": pb_id,
            "media_uri": media,
            "target_uri": f"channel:{ch.id}",
            "language": lang or ch.language,
            "state": "queued",
        }
        self.playbacks[pb_id] = pb
        self._playback_stop[pb_id] = asyncio.Event()
        self.control(ch).post(lambda: self._perform_playback(ch, pb), quiet=True)
        return dict(pb)

    async def _perform_playback(self: SimAsterisk, ch: SimChannel, pb: Json) -> None:
        """``play_on_channel``: each media in turn; a sound with no file fails (the last
        media's failure is the playback's); number and digit files missing are silent."""
        pb_id = pb["id"]
        stop = self._playback_stop.get(pb_id)
        if pb_id not in self.playbacks or stop is None:
            return  # stopped while queued, or the channel is gone
        medias = pb["media_uri"].split(",")
        failed = False
        for i, media in enumerate(medias):
            pb["state"] = "playing" if i == 0 else "continuing"
            self.emit("PlaybackStarted" if i == 0 else "PlaybackContinuing", {"playback": dict(pb)})
            seconds, failed = self._media_length(ch, media, pb["language"])
            if not failed:
                ch.heard.append(media)
            if seconds > 0:
                try:
                    await asyncio.wait_for(stop.wait(), seconds)
                except TimeoutError:
                    pass
            if stop.is_set() or pb_id not in self.playbacks:
                break
        if failed:
            self.stats.playbacks_failed += 1
        self._finish_playback(pb_id, "failed" if failed else "done")

    def _media_length(
        self: SimAsterisk, ch: SimChannel, media: str, lang: str
    ) -> tuple[float, bool]:
        """(seconds it plays, whether it failed) for one media URI."""
        scheme, _, name = media.partition(":")
        if scheme == "sound":
            if not self.catalogue.exists(name, lang):
                self._missing(ch, media)
                return 0.0, True
            return self.sounds.get(name, self.default_sound_s), False
        if scheme in ("number", "digits"):
            files = say_files(media)
            found = [f for f in files if self.catalogue.exists(f, lang)]
            for f in files:
                if f not in found:
                    self._missing(ch, f"sound:{f}")
            return (self.default_sound_s if found else 0.0), False
        return self.sounds.get(name, self.default_sound_s), False

    def _missing(self: SimAsterisk, ch: SimChannel, media: str) -> None:
        self.stats.sounds_missing += 1
        ch.missing_sounds.append(media)
        log.warning("stand-in: no sound file for %s (language %s) on %s", media, ch.language, ch.id)

    def _finish_playback(self: SimAsterisk, pb_id: str, state: str = "done") -> None:
        stop = self._playback_stop.pop(pb_id, None)
        if stop is not None:
            stop.set()
        pb = self.playbacks.pop(pb_id, None)
        if pb is None:
            return
        pb["state"] = state
        self.emit("PlaybackFinished", {"playback": dict(pb)})

    def stop_playback(self: SimAsterisk, pb_id: str) -> None:
        if pb_id not in self.playbacks:
            raise SimError(404, "Playback not found")
        self._finish_playback(pb_id)

    def record_bridge(self: SimAsterisk, bridge_id: str, name: str, fmt: str) -> Json:
        b = self.get_bridge(bridge_id)
        if not name:
            raise SimError(400, "Invalid parameters")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "wav49"):
            raise SimError(422, "The format specified is unknown on this system")
        rec = {
            "name": name,
            "format": fmt,
            "state": "queued",
            "target_uri": f"bridge:{b.id}",
            "_started": time.time(),
            "_speech": self._speech_of(b.channels),
        }
        self.live_recordings[name] = rec
        b.recording = name

        def started() -> None:
            if name in self.live_recordings:
                rec["state"] = "recording"
                self.emit("RecordingStarted", {"recording": _public(rec)})

        self.later(0.001, started)
        return _public(rec)

    def record_channel(
        self: SimAsterisk,
        channel_id: str,
        name: str,
        fmt: str,
        max_s: float,
        terminate_on: str,
        beep: bool = False,
    ) -> Json:
        """Queue a recording on the channel; it holds the channel's commands until it
        stops. With ``beep`` and no beep sound, Asterisk records nothing and still reports
        the recording finished."""
        ch = self._stasis_channel(channel_id)
        if not name:
            raise SimError(400, "Invalid parameters")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "wav49"):
            raise SimError(422, "The format specified is unknown on this system")
        if name in self.live_recordings:
            raise SimError(409, "Recording with the same name already in progress")
        rec = {
            "name": name,
            "format": fmt,
            "state": "queued",
            "target_uri": f"channel:{ch.id}",
            "_started": time.time(),
            "_terminate": terminate_on,
            "_speech": self._speech_of([ch.id]),
            "_done": asyncio.Event(),
            "_empty": False,
        }
        self.live_recordings[name] = rec
        self._channel_recs.setdefault(ch.id, set()).add(name)
        self.control(ch).post(lambda: self._perform_recording(ch, rec, max_s, beep), quiet=True)
        return _public(rec)

    async def _perform_recording(
        self: SimAsterisk, ch: SimChannel, rec: Json, max_s: float, beep: bool
    ) -> None:
        name = rec["name"]
        if name not in self.live_recordings:
            return
        rec["state"] = "recording"
        rec["_started"] = time.time()
        self.emit("RecordingStarted", {"recording": _public(rec)})
        if beep and not self.catalogue.exists("beep", ch.language):
            self._missing(ch, "sound:beep")
            rec["_empty"] = True
            self.stop_recording(name)
            return
        if max_s > 0:
            self.later(max_s, self._stop_if_live, name)
        await rec["_done"].wait()

    def _stop_if_live(self: SimAsterisk, name: str) -> None:
        if name in self.live_recordings:
            self.stop_recording(name)

    def stop_recording(self: SimAsterisk, name: str) -> None:
        rec = self.live_recordings.pop(name, None)
        if rec is None:
            raise SimError(404, "Recording not found")
        target = rec["target_uri"].removeprefix("channel:")
        names = self._channel_recs.get(target)
        if names is not None:
            names.discard(name)
            if not names:
                del self._channel_recs[target]
        if "_done" in rec:
            rec["_done"].set()
        rec["state"] = "done"
        elapsed = 0.0 if rec.get("_empty") else time.time() - rec["_started"]
        duration = round(elapsed)
        if self.recordings_dir and not rec.get("_empty"):
            write_recording(Path(self.recordings_dir) / f"{name}.wav", rec["_speech"], elapsed)
        self.stored_recordings[name] = {
            "name": name,
            "format": rec["format"],
            "_duration": duration,
        }
        for b in self.bridges.values():
            if b.recording == name:
                b.recording = ""
        self.emit("RecordingFinished", {"recording": {**_public(rec), "duration": duration}})

    def _speech_of(self: SimAsterisk, channel_ids: list[str]) -> list[str]:
        out = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is not None and (ch.speech or "ANSWER_SPEECH" in ch.vars):
                out.append(ch.speech or ch.vars["ANSWER_SPEECH"])
        return out


def _public(rec: Json) -> Json:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def write_recording(path: Path, speech: list[str], seconds: float) -> None:
    """What Asterisk would have recorded: the speakers' audio mixed, ``seconds`` long,
    8 kHz 16-bit mono."""
    import wave

    import numpy as np

    n = int(seconds * 16000)
    mix = np.zeros(n, np.int32)
    for wav in speech:
        with wave.open(wav) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2")[:n]
        mix[: len(x)] += x
    pcm8k = mix[: n - n % 2].reshape(-1, 2).mean(axis=1).clip(-32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm8k.tobytes())
