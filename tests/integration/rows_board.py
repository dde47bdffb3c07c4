"""The supervisor board's routes in the role × route table."""

from __future__ import annotations

from tests.integration.access_rows import SUPERVISING, Row, api, page

ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/board"): page("/board", SUPERVISING),
    ("GET", "/board/snapshot"): api("/board/snapshot", SUPERVISING),
    ("POST", "/api/calls/{call_id}/coach"): api(
        "/api/calls/no-such-call/coach", SUPERVISING, json={"mode": "listen", "seat": "PJSIP/2001"}
    ),
    ("DELETE", "/api/calls/{call_id}/coach"): api("/api/calls/no-such-call/coach", SUPERVISING),
}
