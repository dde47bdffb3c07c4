"""The portal's pure rules as tables (they need no server; kept beside the portal's other
tests): which upload names and first bytes pass, which band a deadline falls in, who sees
a ticket, when a sign-for is on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.roles import Actor, Role
from hotline.tickets.attachments import (
    KINDS,
    AttachmentInvalid,
    AttachmentRules,
    AttachmentType,
    check_name,
    content_matches,
)
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.portal import due_band, may_see, subtree
from hotline.tickets.scorecard import signed_on_time
from hotline.tickets.workflow import DepartmentTree

ALLOWED = frozenset(KINDS)
CAL = WorkCalendar(tz="Asia/Shanghai")
# Wednesday 2026-12-02 10:00 in Shanghai; the weekend is the 5th and 6th.
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
TREE = DepartmentTree({1: None, 2: 1, 3: 2, 4: None})


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("报告.pdf", "pdf"),
        ("现场 照片.JPG", "jpg"),
        ("a.b.docx", "docx"),
        ("x%2F..%2Fy.png", "png"),
    ],
)
def test_given_a_plain_name_of_an_allowed_type_then_its_extension(name: str, ext: str) -> None:
    assert check_name(name, ALLOWED) == ext


@pytest.mark.parametrize(
    "name",
    [
        "../a.pdf",
        "a/b.pdf",
        "a\\b.pdf",
        "C:a.pdf",
        "/etc/passwd.pdf",
        ".pdf",
        "..",
        "a\x00.pdf",
        "a\nb.pdf",
        "报告\u202efdp.exe.pdf",  # a right-to-left override: it would read as 报告exe.pdf…
        "a\x85b.pdf",  # a C1 control
        "a\u2028b.pdf",  # a line separator
        "",
        " ",
        "x" * 201 + ".pdf",
    ],
)
def test_given_a_name_with_a_path_or_no_name_then_refused(name: str) -> None:
    with pytest.raises(AttachmentInvalid):
        check_name(name, ALLOWED)


@pytest.mark.parametrize("name", ["a.exe", "a.html", "a.svg", "pdf", "a.", "a.tar.gz"])
def test_given_a_type_not_allowed_then_refused(name: str) -> None:
    with pytest.raises(AttachmentType):
        check_name(name, ALLOWED)


@pytest.mark.parametrize(
    ("ext", "head", "ok"),
    [
        ("pdf", b"%PDF-1.7\n", True),
        ("pdf", b"<html>", False),
        ("png", b"\x89PNG\r\n\x1a\n....", True),
        ("png", b"\xff\xd8\xff\xe0", False),
        ("jpg", b"\xff\xd8\xff\xe0", True),
        ("gif", b"GIF89a", True),
        ("doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", True),
        ("docx", b"PK\x03\x04....[Content_Types].xml....word/document.xml", True),
        ("docx", b"PK\x03\x04....evil.sh", False),
        ("xlsx", b"PK\x03\x04....xl/workbook.xml", True),
    ],
)
def test_given_first_bytes_then_they_match_the_extension_or_not(
    ext: str, head: bytes, ok: bool
) -> None:
    assert content_matches(ext, head) is ok


def test_given_a_type_the_server_cannot_check_then_the_rules_refuse_to_start() -> None:
    with pytest.raises(ValueError, match="svg"):
        AttachmentRules(
            folder=__import__("pathlib").Path("x"), max_bytes=1, types=frozenset({"svg"})
        )


@pytest.mark.parametrize(
    ("due", "status", "band"),
    [
        (NOW - timedelta(minutes=1), "in_progress", "overdue"),
        (NOW, "dispatched", "overdue"),
        (NOW + timedelta(hours=30), "in_progress", "soon"),  # end of Thursday
        (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), "dispatched", "ok"),  # end of Monday
        (NOW + timedelta(days=10), "extension_pending", "ok"),
        (NOW - timedelta(days=1), "replied", "done"),
        (None, "dispatched", "done"),
    ],
)
def test_given_a_deadline_then_its_band(due: datetime | None, status: str, band: str) -> None:
    assert due_band(due, NOW, CAL, 2, status) == band


def test_given_a_deadline_after_a_weekend_then_amber_from_the_friday() -> None:
    monday_end = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    thursday_late = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # Thursday 23:00 in Shanghai
    friday = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert due_band(monday_end, thursday_late, CAL, 2, "in_progress") == "ok"
    assert due_band(monday_end, friday, CAL, 2, "in_progress") == "soon"


@pytest.mark.parametrize(
    ("who", "ticket", "sees"),
    [
        (Actor(1, Role.DEPARTMENT, 1), {"handler_id": 3}, True),  # a unit two levels down
        (Actor(1, Role.DEPARTMENT, 2), {"handler_id": 1}, False),  # its parent's
        (Actor(1, Role.DEPARTMENT, 4), {"handler_id": 3}, False),  # another tree
        (Actor(1, Role.DEPARTMENT, 4), {"handler_id": 3, "co_handler_ids": [4]}, True),
        (Actor(1, Role.DEPARTMENT, 2), {"handler_id": 1, "delegated_by": [2]}, True),
        (Actor(1, Role.DEPARTMENT, None), {"handler_id": None}, False),
        (Actor(1, Role.DISPATCHER), {"handler_id": 3}, True),
    ],
)
def test_given_a_department_then_it_sees_its_own_tree_only(
    who: Actor, ticket: dict[str, object], sees: bool
) -> None:
    full = {"co_handler_ids": [], "delegated_by": [], **ticket}
    assert may_see(who, full, TREE) is sees
    assert subtree(TREE, 1) == {1, 2, 3}


@pytest.mark.parametrize(
    ("sent", "signed", "ok"),
    [
        (NOW, NOW + timedelta(hours=2), True),
        (NOW, datetime(2026, 12, 3, 15, 59, tzinfo=UTC), True),  # before Thursday's end
        (NOW, datetime(2026, 12, 3, 16, 1, tzinfo=UTC), False),
        (datetime(2026, 12, 4, 8, 0, tzinfo=UTC), datetime(2026, 12, 7, 10, 0, tzinfo=UTC), True),
        (None, NOW, True),
    ],
)
def test_given_a_sign_for_then_on_time_within_one_working_day(
    sent: datetime | None, signed: datetime, ok: bool
) -> None:
    assert signed_on_time(sent, signed, CAL) is ok
