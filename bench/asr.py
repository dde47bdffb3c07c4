"""Speech recognition: real-time factor, accuracy and concurrent live streams.

    python bench/asr.py [--quick]

1. Accuracy and speed per decoding setting: every line of the synthetic calls
   (hotline/simulator/speech.py, espeak-ng Mandarin, 16 kHz) decoded in this process, one
   recogniser at a time; RTF = CPU seconds / audio seconds; CER against the written text.
2. Concurrent live streams: N conversational streams (the caller's lines with silences as
   long as the operator's turns, about half speech) sent as real RTP over loopback to the
   receiver and the worker pool (2 processes), in real time. A count is sustained when no
   stream is cut off and the busiest worker never falls more than 2 s behind.
3. Memory: 2 workers sharing one model by fork, against one model per worker (PSS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, machine, print_table, write_results
from hotline.asr.engine import EnginePool, PoolConfig
from hotline.asr.model import Decoding, model_dir
from hotline.asr.receiver import RtpReceiver, RtpStream
from hotline.asr.transcript import cer
from hotline.simulator import speech
from hotline.simulator.rtp import RtpSender

MODEL = ROOT.parent / "shared" / "models" / "vosk-model-small-cn-0.22"
CACHE = ROOT / "var" / "bench-speech"
SETTINGS = {
    "shipped": Decoding(),
    "tuned": Decoding(beam=8.0, max_active=1000, lattice_beam=2.0),
    "fast": Decoding(beam=7.0, max_active=500, lattice_beam=1.0),
}


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def corpus() -> list[tuple[str, Path]]:
    return [(line.text, speech.cached(line.text, CACHE)) for call in speech.CALLS for line in call]


def accuracy(model: str, items: list[tuple[str, Path]]) -> dict[str, float]:
    from vosk import KaldiRecognizer, Model, SetLogLevel

    SetLogLevel(-1)
    m = Model(model)
    cpu = audio_s = 0.0
    edits = chars = 0
    pad = b"\0" * 9600
    for text, wav in items:
        data = pad + pcm(wav) + pad
        rec = KaldiRecognizer(m, 16000)
        t0 = time.process_time()
        for i in range(0, len(data), 3200):
            rec.AcceptWaveform(data[i : i + 3200])
        hyp = json.loads(rec.FinalResult())["text"]
        cpu += time.process_time() - t0
        audio_s += len(data) / 32000
        e, n = cer(text, "".join(w for w in hyp.split() if w != "[unk]"))
        edits, chars = edits + e, chars + n
    return {"rtf": cpu / audio_s, "cer": edits / chars, "audio_s": audio_s}


def conversation(items: list[tuple[str, Path]]) -> bytes:
    """The caller's side of the calls: their lines, and silence while the operator talks."""
    out = bytearray()
    for call in speech.CALLS:
        for line in call:
            audio = pcm(speech.cached(line.text, CACHE))
            out += audio if line.side == "caller" else b"\0" * len(audio)
            out += b"\0" * 16000  # a pause between turns
    return bytes(out)


async def live(model: str, streams: int, seconds: float, audio: bytes) -> dict[str, float]:
    pool = EnginePool(PoolConfig(model, workers=2, max_streams=64, max_backlog_s=3.0))
    await pool.start()
    rx = RtpReceiver(idle_s=1.0)
    port = await rx.start("127.0.0.1", 0)
    senders = []
    finals = 0
    rng = random.Random(streams)

    def count(r: dict[str, Any]) -> None:
        nonlocal finals
        finals += r["type"] == "final"

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(streams):
            key = f"s{i}"
            pool.open(key, count)
            offset = rng.randrange(0, len(audio) // 640) * 640
            wav = Path(tmp) / f"{i}.wav"
            with wave.open(str(wav), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(audio[offset:] + audio[:offset])
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            stream = RtpStream(key, lambda b, k=key: pool.feed(k, b), lambda k=key: pool.finish(k))
            rx.expect("127.0.0.1", sock.getsockname()[1], stream)
            senders.append(RtpSender(("127.0.0.1", port), str(wav), max_seconds=seconds, sock=sock))
        tasks = [asyncio.create_task(s.run()) for s in senders]
        backlog: list[float] = []
        t0 = time.monotonic()
        cpu0 = _children_cpu(pool)
        while time.monotonic() - t0 < seconds:
            await asyncio.sleep(0.5)
            backlog.append(max(w.backlog_s() for w in pool.workers))
        cpu = _children_cpu(pool) - cpu0
        for s in senders:
            s.stop()
        await asyncio.gather(*tasks)
        degraded = sum(1 for st in pool.streams.values() if st.degraded)
        for i in range(streams):
            await pool.close(f"s{i}", timeout=30)
    rx.stop()
    await pool.stop()
    return {
        "streams": streams,
        "degraded": degraded,
        "max_backlog_s": max(backlog),
        "finals": finals,
        "worker_cpu_per_stream_s": cpu / streams / seconds,
        "sustained": float(degraded == 0 and max(backlog) < 2.0),
    }


def _children_cpu(pool: EnginePool) -> float:
    total = 0.0
    for pid in _worker_pids(pool):
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def _worker_pids(pool: EnginePool) -> list[int]:
    hosts = {w.proc.pid for w in pool.workers}
    pids = list(hosts)
    for h in hosts:
        try:
            pids += [int(p) for p in Path(f"/proc/{h}/task/{h}/children").read_text().split()]
        except OSError:
            pass
    return pids


def _pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def memory(model: str, share: str, sample: bytes) -> dict[str, float]:
    t0 = time.perf_counter()
    pool = EnginePool(PoolConfig(model, workers=2, share=share))
    await pool.start()
    done = []
    for i in range(2):  # one utterance on each worker, so both have built their decoders
        pool.open(f"w{i}", done.append, batch=True)
    for i in range(0, len(sample), 3200):
        for k in range(2):
            await pool.feed_paced(f"w{k}", sample[i : i + 3200])
    for k in range(2):
        await pool.close(f"w{k}")
    ready = time.perf_counter() - t0
    pss = sum(_pss_mib(p) for p in _worker_pids(pool))
    await pool.stop()
    return {"pss_mib": pss, "ready_s": ready}


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if not speech.available():
        print("espeak-ng and sox are needed to make the test speech")
        return 2
    items = corpus()
    cache = ROOT / "var" / "asr-models"
    dirs = {name: model_dir(MODEL, d, cache) for name, d in SETTINGS.items()}
    summary: dict[str, float | int | None] = {}
    rows: list[tuple[str, Any, str]] = []
    for name, path in dirs.items():
        acc = accuracy(path, items)
        summary[f"{name}_rtf"] = round(acc["rtf"], 3)
        summary[f"{name}_cer"] = round(acc["cer"], 3)
        rows += [
            (f"{name}: RTF (CPU s / audio s)", acc["rtf"], "target ≤ 0.25 (tuned)"),
            (f"{name}: CER", acc["cer"], "tuned ≤ shipped + 0.02"),
        ]
    summary["corpus_audio_s"] = round(acc["audio_s"], 1)
    audio = conversation(items)
    seconds = 20.0 if args.quick else 45.0
    counts = [8, 16] if args.quick else [4, 8, 12, 16, 20, 24]
    for name in ("shipped", "tuned"):
        best = 0
        for n in counts:
            r = await live(dirs[name], n, seconds, audio)
            rows.append(
                (
                    f"{name}: {n} live streams, max backlog s",
                    r["max_backlog_s"],
                    "sustained" if r["sustained"] else "NOT sustained",
                )
            )
            summary[f"{name}_{n}_streams_max_backlog_s"] = round(r["max_backlog_s"], 2)
            summary[f"{name}_{n}_streams_cpu_per_stream"] = round(r["worker_cpu_per_stream_s"], 3)
            if not r["sustained"]:
                break
            best = n
        summary[f"{name}_max_live_streams"] = best
        rows.append((f"{name}: concurrent streams in real time", best, "target ≥ 8 (tuned)"))
    sample = pcm(items[0][1])
    for share in ("fork", "none"):
        m = await memory(dirs["tuned"], share, sample)
        summary[f"workers2_{share}_pss_mib"] = round(m["pss_mib"], 1)
        summary[f"workers2_{share}_ready_s"] = round(m["ready_s"], 2)
        rows.append((f"2 workers, share={share}: PSS MiB", m["pss_mib"], ""))
    print_table("ASR (vosk-model-small-cn-0.22, espeak-ng speech)", rows)
    settings = {
        "quick": args.quick,
        "live_seconds": seconds,
        "stream_counts": counts,
        "workers": 2,
        "decoding": {k: v.describe() for k, v in SETTINGS.items()},
        "corpus_lines": len(items),
        "model": f"../{MODEL.relative_to(ROOT.parent)}",
    }
    path = write_results("asr", settings, summary, notes=str(machine()["cpu"]))
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
