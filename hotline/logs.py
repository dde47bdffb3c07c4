"""Structured logging: plain text for people, one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class BadRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a malformed URL, a broken request line) as an
    ERROR with its parser's traceback, though it answered 400 and nothing of ours failed:
    make it one INFO line naming the client and the reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and getattr(exc, "code", None) == 400:
            if type(exc).__module__.startswith("aiohttp."):
                reason = f"{type(exc).__name__}: {getattr(exc, 'message', '')}"
                client = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
                record.msg = "bad request from %s (400): %s"
                record.args = (client, " ".join(str(reason).split()))
                record.levelno, record.levelname = logging.INFO, "INFO"
                record.exc_info = record.exc_text = None
        return True


def setup_logging(level: str = "INFO", fmt: str = "text", quiet: tuple[str, ...] = ()) -> None:
    """Log to stderr at ``level``; the ``quiet`` loggers (and Alembic's) speak only at DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestFilter) for f in server.filters):
        server.addFilter(BadRequestFilter())
    # Alembic's INFO lines ("setup plugin …", "Context impl SQLiteImpl", "Running upgrade …")
    # would open every command that touches the database; they show at DEBUG.
    for name in ("alembic", *quiet):
        logging.getLogger(name).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
        )
