"""The department portal over HTTP on the real app: each department sees only its own (and
its units') tickets, attachments and scorecard, by id guessing too; uploads with a path in
the name, a wrong type or an oversize body are refused and leave nothing on disk; the
inbox orders and colours by deadline; the scorecard counts what the department did."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import update

from hotline.keys import SETTINGS, TICKETS
from hotline.roles import Role
from hotline.tickets import schema as t
from tests.conftest import ADMIN, Server, make_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class City:
    """Two departments (water with a street-level unit, and gas), their staff, a dispatcher."""

    srv: Server
    tokens: dict[str, str] = field(default_factory=dict)
    depts: dict[str, int] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def ticket(self, dept: str, content: str = "小区停水三天了", **kw: Any) -> str:
        async with aiohttp.ClientSession(headers=ADMIN) as http:
            body = {"content": content, "caller_phone": "13800001234", "kind": "complaint", **kw}
            async with http.post(f"{self.srv.url}/api/tickets", json=body) as resp:
                assert resp.status == 201, await resp.text()
                number = str((await resp.json())["number"])
            act = {"action": "dispatch", "lead": self.depts[dept]}
            async with http.post(
                f"{self.srv.url}/api/tickets/{number}/actions",
                json=act,
                headers=self.auth("paidan"),
            ) as resp:
                assert resp.status == 200, await resp.text()
        return number

    async def act(self, who: str, number: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with aiohttp.ClientSession(headers=self.auth(who)) as http:
            async with http.post(f"{self.srv.url}/api/tickets/{number}/actions", json=body) as resp:
                return resp.status, await resp.json()

    async def upload(
        self, who: str, number: str, name: str, data: bytes, ctype: str = "application/pdf"
    ) -> tuple[int, Any]:
        form = aiohttp.FormData(quote_fields=False)  # names as a browser sends them
        form.add_field("file", data, filename=name, content_type=ctype)
        async with aiohttp.ClientSession(headers=self.auth(who)) as http:
            async with http.post(
                f"{self.srv.url}/api/tickets/{number}/attachments", data=form
            ) as resp:
                return resp.status, await resp.json()

    async def get(self, who: str, path: str) -> tuple[int, bytes, str]:
        async with aiohttp.ClientSession(headers=self.auth(who)) as http:
            async with http.get(f"{self.srv.url}{path}", allow_redirects=False) as resp:
                return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


async def city(srv: Server, password: str | None = None) -> City:
    directory = srv[TICKETS].directory
    await directory.add_departments(
        [
            {"code": "water", "name": "市供水集团"},
            {"code": "water-east", "name": "供水集团东区营业所", "parent": "water"},
            {"code": "gas", "name": "市燃气集团"},
        ]
    )
    c = City(srv)
    for code in ("water", "water-east", "gas"):
        c.depts[code] = await directory.department_id(code)
    for username, role, dept, name in [
        ("shuiwu", Role.DEPARTMENT, "water", "供水办事员"),
        ("dongqu", Role.DEPARTMENT, "water-east", "东区办事员"),
        ("ranqi", Role.DEPARTMENT, "gas", "燃气办事员"),
        ("paidan", Role.DISPATCHER, None, "派单员"),
    ]:
        dept_id = c.depts[dept] if dept else None
        _, c.tokens[username] = await directory.add_user(
            username, role, name=name, department_id=dept_id
        )
        if password:
            await directory.set_password(username, password)
    return c


def files_under(root: Path) -> set[str]:
    """Files in the server's data folder, the database's own aside."""
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("hotline.sqlite3")
    }


async def test_given_two_departments_then_each_sees_only_its_own_tickets_files_and_scorecard(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    c = await city(srv)
    water_t = await c.ticket("water", "自来水发黄")
    gas_t = await c.ticket("gas", "楼道燃气味")
    assert (await c.act("ranqi", gas_t, {"action": "sign"}))[0] == 200
    status, gas_file = await c.upload("ranqi", gas_t, "现场照片.png", PNG, "image/png")
    assert status == 201, gas_file
    assert (await c.act("shuiwu", water_t, {"action": "sign"}))[0] == 200
    status, water_file = await c.upload("shuiwu", water_t, "检测报告.pdf", PDF)
    assert status == 201, water_file

    status, inbox, _ = await c.get("shuiwu", "/portal/inbox")
    assert status == 200 and water_t.encode() in inbox and gas_t.encode() not in inbox
    # another department's ticket answers as a missing one does: numbers cannot be walked
    assert (await c.get("shuiwu", f"/portal/tickets/{gas_t}"))[0] == 404
    assert (await c.get("shuiwu", f"/api/tickets/{gas_t}/attachments"))[0] == 404
    assert (await c.get("shuiwu", f"/api/tickets/{gas_t}"))[0] == 404
    assert (await c.get("shuiwu", "/api/tickets/2099010199999"))[0] == 404
    # Guessing ids: only water's own file opens; gas's answers as if it did not exist.
    seen = {}
    for guess in range(1, max(gas_file["id"], water_file["id"]) + 5):
        seen[guess] = (await c.get("shuiwu", f"/api/attachments/{guess}"))[0]
    assert seen[water_file["id"]] == 200
    assert seen[gas_file["id"]] == 404
    assert {s for i, s in seen.items() if i != water_file["id"]} == {404}
    body = (await c.get("shuiwu", f"/api/attachments/{water_file['id']}"))[1]
    assert body == PDF
    assert (await c.get("shuiwu", f"/api/departments/{c.depts['gas']}/scorecard"))[0] == 403
    assert (await c.get("shuiwu", "/api/departments/999999/scorecard"))[0] == 403
    assert (await c.get("shuiwu", f"/api/departments/{c.depts['water']}/scorecard"))[0] == 200
    assert (await c.get("shuiwu", f"/api/departments/{c.depts['water-east']}/scorecard"))[0] == 200
    # The street unit sees neither its parent's tickets nor its scorecard.
    assert (await c.get("dongqu", f"/portal/tickets/{water_t}"))[0] == 404
    assert (await c.get("dongqu", f"/api/departments/{c.depts['water']}/scorecard"))[0] == 403
    # The hotline sees every ticket's files.
    status, got, ctype = await c.get("paidan", f"/api/attachments/{gas_file['id']}")
    assert status == 200 and got == PNG and ctype == "image/png"


async def test_given_a_ticket_passed_down_then_the_parent_still_sees_it_and_its_files(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    c = await city(srv)
    number = await c.ticket("water")
    assert (await c.act("shuiwu", number, {"action": "sign"}))[0] == 200
    down = {"action": "pass_down", "to": c.depts["water-east"], "note": "请东区处理"}
    assert (await c.act("shuiwu", number, down))[0] == 200
    assert (await c.act("dongqu", number, {"action": "sign"}))[0] == 200
    status, saved = await c.upload("dongqu", number, "维修单.pdf", PDF)
    assert status == 201, saved
    status, inbox, _ = await c.get("shuiwu", "/portal/inbox")
    assert number.encode() in inbox
    status, page, _ = await c.get("shuiwu", f"/portal/tickets/{number}")
    assert status == 200 and "维修单.pdf" in page.decode()
    assert (await c.get("shuiwu", f"/api/attachments/{saved['id']}"))[0] == 200
    # Only the handling unit may attach: the parent reads but does not add.
    assert (await c.upload("shuiwu", number, "补充.pdf", PDF))[0] == 403
    assert (await c.get("ranqi", f"/api/attachments/{saved['id']}"))[0] == 404


async def test_given_hostile_uploads_then_refused_and_nothing_is_written_outside_the_folder(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(standin, redis_url, attachment_max_bytes=4096)
    srv = await server_factory(settings)
    c = await city(srv)
    number = await c.ticket("water")
    assert (await c.act("shuiwu", number, {"action": "sign"}))[0] == 200
    data_dir = Path(srv[SETTINGS].data_dir)
    folder = data_dir / "attachments"
    before = files_under(data_dir)
    outside = data_dir.parent
    for name in [
        "../../evil.pdf",
        "../evil.pdf",
        "sub/evil.pdf",
        "..\\evil.pdf",
        "C:evil.pdf",
        "/etc/evil.pdf",
        ".hidden.pdf",
    ]:
        status, body = await c.upload("shuiwu", number, name, PDF)
        assert status == 422, (name, status, body)
        assert body["error_id"] == "attachment-invalid"
    for name, data in [
        ("tool.exe", b"MZ\x90\x00"),
        ("page.html", b"<script>alert(1)</script>"),
        ("photo.png", PDF),  # a PDF renamed .png
        ("report.pdf", b"<html>not a pdf</html>"),
        ("sheet.xlsx", b"PK\x03\x04" + b"\x00" * 40),  # a zip, but not a workbook
        ("noext", PDF),
    ]:
        status, body = await c.upload("shuiwu", number, name, data)
        assert status == 415, (name, status, body)
    status, body = await c.upload("shuiwu", number, "big.pdf", PDF + b"0" * 5000)
    assert status == 413, body
    status, body = await c.upload("shuiwu", number, "huge.pdf", PDF + b"0" * 200_000)
    assert status == 413, body
    assert files_under(data_dir) - before == set(), "a refused upload left a file"
    assert not any(Path(p).name.startswith(("evil", ".part-")) for p in files_under(data_dir))
    assert "evil.pdf" not in os.listdir(outside) and "evil.pdf" not in os.listdir("/etc")
    # A good one lands in the folder under a name the server made.
    status, body = await c.upload("shuiwu", number, "报告.pdf", PDF)
    assert status == 201, body
    added = files_under(data_dir) - before
    assert len(added) == 1
    stored = data_dir / added.pop()
    assert stored.parent == folder and stored.read_bytes() == PDF
    assert len(stored.stem) == 32 and stored.suffix == ".pdf" and "报告" not in stored.name
    # A body with no file part, and a file once the reply is in, are refused too.
    async with aiohttp.ClientSession(headers=c.auth("shuiwu")) as http:
        async with http.post(f"{srv.url}/api/tickets/{number}/attachments", json={}) as resp:
            assert resp.status == 422
    assert (await c.act("shuiwu", number, {"action": "reply", "text": "已修复"}))[0] == 200
    assert (await c.upload("shuiwu", number, "late.pdf", PDF))[0] == 409


async def test_given_deadlines_then_the_inbox_orders_and_colours_them(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    c = await city(srv)
    numbers = [await c.ticket("water", f"工单{i}") for i in range(3)]
    late, soon, fine = numbers
    now = srv[TICKETS].tickets.clock()
    engine = srv[TICKETS].tickets.engine
    dues = {
        late: now - timedelta(hours=3),
        soon: now + timedelta(hours=20),
        fine: now + timedelta(days=20),
    }
    async with engine.begin() as conn:
        for number, due in dues.items():
            await conn.execute(
                update(t.tickets).where(t.tickets.c.number == number).values(reply_due=due)
            )
    status, html, _ = await c.get("shuiwu", "/portal/inbox")
    text = html.decode()
    assert status == 200
    positions = [text.index(f'data-number="{n}"') for n in numbers]
    assert positions == sorted(positions), "soonest deadline first"
    for number, band in zip(numbers, ("overdue", "soon", "ok"), strict=True):
        assert f'data-number="{number}" data-band="{band}"' in text


async def test_given_a_month_of_work_then_the_scorecard_counts_it_against_the_city(
    standin, redis_url, server_factory, database_url
) -> None:  # type: ignore[no-untyped-def]
    """On SQLite and PostgreSQL: the scorecard's SQL, the inbox and an attachment."""
    srv = await server_factory(make_settings(standin, redis_url, database_url=database_url))
    c = await city(srv)
    a, b = await c.ticket("water"), await c.ticket("water")
    g = await c.ticket("gas")
    assert (await c.act("shuiwu", a, {"action": "sign"}))[0] == 200
    ext = {"action": "request_extension", "days": 3, "reason": "需要更换管道"}
    assert (await c.act("shuiwu", a, ext))[0] == 200
    assert (await c.act("paidan", a, {"action": "decide_extension", "approve": True}))[0] == 200
    assert (await c.act("shuiwu", a, {"action": "reply", "text": "已更换管道"}))[0] == 200
    assert (await c.act("paidan", a, {"action": "review", "accept": True}))[0] == 200
    rate = {"action": "rate", "satisfaction": "satisfied", "stars": 5}
    assert (await c.act("paidan", a, rate))[0] == 200
    assert (await c.act("shuiwu", b, {"action": "return", "reason": "不属于本单位"}))[0] == 200
    assert (await c.act("ranqi", g, {"action": "sign"}))[0] == 200
    status, saved = await c.upload("ranqi", g, "照片.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100)
    assert status == 201, saved
    assert (await c.get("ranqi", saved["url"]))[0] == 200
    assert (await c.get("shuiwu", saved["url"]))[0] == 404
    status, raw, _ = await c.get("shuiwu", f"/api/departments/{c.depts['water']}/scorecard")
    assert status == 200
    card = json.loads(raw)
    figs = {f["name"]: f for f in card["figures"]}
    assert figs["sign_on_time"]["department"] == {"n": 1, "of": 1, "rate": 1.0}
    assert figs["sign_on_time"]["city"] == {"n": 2, "of": 2, "rate": 1.0}
    assert figs["reply_on_time"]["department"] == {"n": 1, "of": 1, "rate": 1.0}
    assert figs["satisfaction"]["department"] == {"n": 1, "of": 1, "rate": 1.0}
    assert figs["returns"]["department"] == {"n": 1, "of": 2, "rate": 0.5}
    assert figs["returns"]["city"] == {"n": 1, "of": 3, "rate": round(1 / 3, 4)}
    assert figs["extensions"]["department"] == {"n": 1, "of": 2, "rate": 0.5}
    # The portal's page shows the citizen's rating and the ticket's history.
    status, html, _ = await c.get("shuiwu", f"/portal/tickets/{a}")
    page = html.decode()
    assert status == 200 and "满意" in page and 'data-action="review"' in page
