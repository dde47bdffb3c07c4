"""The department portal in a real headless Chromium against the real server: a water
company clerk finds the inbox coloured by deadline, signs for a dispatched ticket, asks
for an extension, replies with a photo once it is approved, returns another ticket with a
reason, and sees the workflow refuse a third return (first-responder rule); the hotline's
dispatcher then accepts the reply through the API and the page shows the review."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from hotline.keys import TICKETS
from hotline.tickets import schema as t
from tests.browser.conftest import PASSWORD
from tests.conftest import make_settings
from tests.integration.test_portal import PNG, City, city


async def _due(srv: Any, number: str, delta: timedelta) -> None:
    now = srv[TICKETS].tickets.clock()
    async with srv[TICKETS].tickets.engine.begin() as conn:
        await conn.execute(
            update(t.tickets).where(t.tickets.c.number == number).values(reply_due=now + delta)
        )


async def _returned_twice(c: City) -> str:
    """A ticket the water company has already returned twice (the rule's limit)."""
    number = await c.ticket("water", "小区二次供水水箱有异味", location="蜀山区稻香村")
    for _ in range(2):
        status, body = await c.act("shuiwu", number, {"action": "return", "reason": "非本单位"})
        assert status == 200, body
        status, body = await c.act(
            "paidan", number, {"action": "dispatch", "lead": c.depts["water"]}
        )
        assert status == 200, body
    return number


async def _submit(page: Any, form: str, status: str) -> None:
    await page.click(f"{form} button[type=submit]")
    await page.wait_for_selector(f"#ticket[data-status={status}]", timeout=10_000)


async def test_given_a_department_clerk_when_they_work_their_inbox_then_the_loop_closes(
    standin, redis_url, server_factory, desk_tab, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    c = await city(srv, password=PASSWORD)
    to_sign = await c.ticket(
        "water", "自来水发黄已经三天，家里老人孩子不敢喝", location="包河区望湖城", urgency="urgent"
    )
    to_return = await c.ticket(
        "water", "小区门口燃气管道漏气，有很重的味道", location="瑶海区长江东路"
    )
    refused = await _returned_twice(c)
    late = await c.ticket("water", "水表井盖缺失，晚上有人踩空", location="庐阳区阜南路")
    await c.ticket("gas", "燃气公司的工单：供水不应看到")
    await _due(srv, late, -timedelta(hours=5))
    await _due(srv, to_return, timedelta(hours=20))

    desk = await desk_tab(srv.url)
    await desk.sign_in("shuiwu")
    page = desk.page
    await page.click("a[href='/portal']")
    await page.wait_for_selector("table.inbox")
    assert await page.locator(f"tr[data-number='{late}'][data-band=overdue]").count() == 1
    assert await page.locator(f"tr[data-number='{to_return}'][data-band=soon]").count() == 1
    assert "供水不应看到" not in await page.inner_text("#inbox")
    assert await page.locator("#scorecard tr[data-figure]").count() == 5
    await desk.shot("portal-inbox")

    # Sign for the urgent ticket, ask for an extension, and reply with a photo.
    await page.click(f"a[href='/portal/tickets/{to_sign}']")
    await page.wait_for_selector("#ticket[data-status=dispatched]")
    await _submit(page, "form[data-action=sign]", "in_progress")
    await page.fill("#form-extension [name=days]", "3")
    await page.fill("#form-extension [name=reason]", "需要更换小区总水管，等待材料")
    await _submit(page, "#form-extension", "extension_pending")
    status, body = await c.act("paidan", to_sign, {"action": "decide_extension", "approve": True})
    assert status == 200, body
    await page.reload()
    await page.wait_for_selector("#ticket[data-status=in_progress]")
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(PNG)
    await page.fill("#form-reply [name=text]", "已更换总水管并冲洗管网，水质检测合格。")
    await page.set_input_files("#form-reply input[type=file]", str(photo))
    await desk.shot("portal-ticket-working")
    await _submit(page, "#form-reply", "replied")
    link = page.locator("#attachments a")
    assert await link.inner_text() == "现场照片.png"
    got = await page.request.get(srv.url + str(await link.get_attribute("href")))
    assert got.status == 200 and await got.body() == PNG
    assert "已批准" in await page.inner_text("body")

    # The hotline reviews the reply and accepts it; the clerk's page shows it.
    status, body = await c.act("paidan", to_sign, {"action": "review", "accept": True})
    assert status == 200 and body["status"] == "follow_up", body
    await page.reload()
    await page.wait_for_selector("#ticket[data-status=follow_up]")
    assert "热线审核通过" in await page.inner_text("body")
    history = await page.inner_text("#history")
    for step in ("派单", "签收", "申请延期", "延期审批", "办结反馈", "审核"):
        assert step in history, step
    await page.evaluate("window.scrollTo(0, 0)")
    await desk.shot("portal-ticket")

    # Return another ticket with a reason.
    await page.goto(f"{srv.url}/portal/tickets/{to_return}")
    await page.fill("#form-return [name=reason]", "燃气管道漏气属燃气集团职责，请改派")
    await _submit(page, "#form-return", "returned")
    assert "燃气集团职责" in await page.inner_text("#history")

    # A third return is refused by the workflow; the page shows its words.
    await page.goto(f"{srv.url}/portal/tickets/{refused}")
    await page.fill("#form-return [name=reason]", "还是不归我们管")
    await page.click("#form-return button[type=submit]")
    await page.wait_for_selector("#action-result.error")
    assert "first-responder" in await page.inner_text("#action-result")
    assert await page.get_attribute("#ticket", "data-status") == "dispatched"
    await desk.shot("portal-refused")
    # The refusal's 409 is logged by Chromium as a failed load; nothing else may be.
    assert [e for e in desk.errors if "status of 409" not in e] == [], desk.errors
