"""The department portal's routes in the role × route table (``test_access_table.py``)."""

from __future__ import annotations

from tests.integration.access_rows import EVERY_ROLE, Row, api, page

DEPARTMENT = {"department"}

ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/portal"): page("/portal", DEPARTMENT),
    ("GET", "/portal/inbox"): api("/portal/inbox", DEPARTMENT),
    ("GET", "/portal/tickets/{number}"): page("/portal/tickets/{ticket}", DEPARTMENT),
    # a JSON body is not a file: let through, then refused as a bad upload (422)
    ("POST", "/api/tickets/{number}/attachments"): api(
        "/api/tickets/{ticket}/attachments", DEPARTMENT, {}
    ),
    ("GET", "/api/tickets/{number}/attachments"): api(
        "/api/tickets/{ticket}/attachments", EVERY_ROLE
    ),
    ("GET", "/api/attachments/{id}"): api("/api/attachments/999999", EVERY_ROLE),
    ("GET", "/api/departments/{id}/scorecard"): api(
        "/api/departments/{water}/scorecard", EVERY_ROLE
    ),
}
