"""The wallboard's routes in the role × route table: the hotline centre's dispatchers,
supervisors and admins; not operators (their desk has their own figures) nor departments."""

from __future__ import annotations

from tests.integration.access_rows import DECIDING, Row, api, page

ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/wallboard"): page("/wallboard", DECIDING),
    ("GET", "/wallboard/snapshot"): api("/wallboard/snapshot", DECIDING),
}
