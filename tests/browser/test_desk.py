"""The operator desk in a real headless Chromium against the real server, the stand-in over
sockets and the real Vosk model: sign in, go ready, a caller with speech arrives, the panel
pops while the seat rings, the transcript streams both sides, the draft is edited and
dispatched, and the ticket is linked to the call. Also a repeat caller, a dropped event
stream mid-call, and a caller who hangs up while the seat rings."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from hotline.keys import STORE, TICKETS
from hotline.tickets.models import NewTicket, Role
from hotline.tickets.schema import calls
from tests.browser.conftest import PASSWORD, FlakyProxy
from tests.conftest import add_seats, make_settings, seats, wait_for

CALLER_SAYS = "我家楼下的路灯坏了好几天了，晚上很黑，在蜀山区黄山路。我家楼下的路灯坏了好几天了。"
OPERATOR_SAYS = "您好，请问有什么可以帮您。好的，我帮您登记。"


async def _server(standin: Any, redis_url: str, server_factory: Any, model: str, **seat: Any):  # type: ignore[no-untyped-def]
    add_seats(standin, 1, **seat)
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            asr_enabled=bool(model),  # "": a test that needs no speech runs without workers
            asr_workers=2,
            asr_model=model or "none",
            wrapup_s=30.0,
            ring_timeout_s=15.0,
        )
    )
    directory = srv.app[TICKETS].directory
    await directory.add_departments([{"code": "lights", "name": "市路灯管理处"}])
    await directory.add_user("1001", Role.OPERATOR, name="话务员甲")
    await directory.set_password("1001", PASSWORD)
    return srv


async def _events(srv: Any, kind: str) -> list[dict[str, Any]]:
    store = srv.app[STORE]
    return [
        json.loads(f[b"data"])
        for _, f in await store.r.xrange(store.k_events)
        if f[b"type"].decode() == kind
    ]


async def _ready(desk: Any) -> None:
    page = desk.page
    assert page.url.endswith("/desk"), page.url
    await page.wait_for_selector("#conn.live", timeout=10_000)
    await page.click("#btn-ready")
    await page.wait_for_selector("#seat-state[data-state=ready]", timeout=10_000)


async def test_given_a_ready_operator_when_a_speaking_caller_arrives_then_the_desk_follows(
    standin,
    redis_url,
    server_factory,
    model_path,
    say,
    desk_tab,
) -> None:
    srv = await _server(
        standin,
        redis_url,
        server_factory,
        model_path,
        answer_delay_s=2.5,
        speech=str(say(OPERATOR_SAYS)),
    )
    await srv.app[TICKETS].kb.upsert(
        "路灯不亮怎么报修",
        "路灯故障由市路灯管理处负责，接报后 24 小时内修复。<img src=x onerror=alert(1)>",
        source="test:lights",
        category="城乡建设/市政设施",
    )
    desk = await desk_tab(srv.url)
    await desk.sign_in("1001")
    await desk.shot("desk-signed-in")
    await _ready(desk)
    page = desk.page

    caller = standin.sim.incoming_call("13805510001", "12345", speech=str(say(CALLER_SAYS)))
    await page.wait_for_selector("#panel[data-phase=ringing]", timeout=10_000)
    assert await page.inner_text("#p-caller") == "13805510001"
    assert await page.inner_text("#p-line") == "12345"
    assert "queue" in await page.inner_text("#p-ivr")
    assert await page.inner_text("#p-history") == "无历史工单"
    await desk.shot("desk-ringing")

    await page.wait_for_selector("#panel[data-phase=talking]", timeout=10_000)
    await page.wait_for_selector("#transcript .seg.caller.final", timeout=60_000)
    await page.wait_for_selector("#transcript .seg.operator.final", timeout=60_000)
    await page.wait_for_function(
        "document.querySelector('#draft [name=content]').value.length > 0", timeout=20_000
    )
    await desk.shot("desk-talking")
    # Knowledge-base suggestions from the transcript and the draft, each opening in place;
    # the small model garbles 路灯 here, so the operator's own words bring the article.
    await page.fill("#draft [name=category]", "路灯不亮")
    await page.wait_for_selector("#kb a", timeout=20_000)
    await page.click("#kb a")
    await page.wait_for_selector("#kb-article .kb-article", timeout=10_000)
    assert "24 小时内修复" in await page.inner_text("#kb-article")
    assert await page.locator("#kb-article img").count() == 0, "article markup is inert"
    # The operator corrects the place; later drafts (the last comes after the hang-up)
    # must not overwrite it. Then the caller hangs up and the ticket is filed in wrap-up,
    # as operators mostly do: the caller's number comes from the call's record then.
    await page.fill("#draft [name=location]", "蜀山区黄山路88号")
    await page.select_option("#draft [name=department]", label="市路灯管理处")
    standin.sim.remote_hangup(caller.id)
    await page.wait_for_selector("#panel[data-phase=ended]", timeout=10_000)
    await page.wait_for_selector("#seat-state[data-state=wrap_up]", timeout=10_000)
    await wait_for(lambda: _events(srv, "transcript.done"), what="the last draft", timeout=20)
    await page.wait_for_selector("#calls-today:text('1')", timeout=10_000)
    assert await page.input_value("#draft [name=location]") == "蜀山区黄山路88号"
    await page.wait_for_selector("#deadline:not(:empty)")
    await page.click("#btn-dispatch")
    await page.wait_for_selector("#ticket-result:not(:empty)", timeout=10_000)
    number = await page.get_attribute("#ticket-result", "data-number")
    assert number, await page.inner_text("#ticket-result")
    assert await page.is_disabled("#btn-dispatch"), "one call, one ticket: no second click"
    await desk.shot("desk-dispatched")

    ticket = await srv.app[TICKETS].tickets.get(number)
    assert ticket["call_id"] == caller.id and ticket["caller_phone"] == "13805510001"
    assert ticket["location"] == "蜀山区黄山路88号" and ticket["status"] == "dispatched"

    async def call_row() -> Any:
        async with srv.app[TICKETS].tickets.engine.connect() as conn:
            return (await conn.execute(select(calls).where(calls.c.call_id == caller.id))).first()

    row = await wait_for(call_row, what="the call's record", timeout=20)
    assert row.recording, "the ticket's call carries its recording"
    finals = await _events(srv, "transcript.final")
    shown = await page.locator("#transcript .seg.final").count()
    assert shown == len(finals), "every final segment the server sent is on the page"
    assert desk.errors == []


async def test_given_a_repeat_caller_when_the_seat_rings_then_history_and_warning_show(
    standin,
    redis_url,
    server_factory,
    model_path,
    say,
    desk_tab,
) -> None:
    srv = await _server(standin, redis_url, server_factory, model_path, answer_delay_s=3.0)
    admin = await srv.app[TICKETS].directory.authenticate("test-admin-token")
    first = await srv.app[TICKETS].tickets.create(
        NewTicket(
            content="小区门口路灯不亮<script>alert(1)</script>",
            caller_phone="13805510002",
            category="城乡建设/市政设施",
        ),
        admin,
    )
    desk = await desk_tab(srv.url)
    await desk.sign_in("1001")
    await _ready(desk)
    page = desk.page
    standin.sim.incoming_call("13805510002", "12345", speech=str(say(CALLER_SAYS)))
    await page.wait_for_selector("#panel[data-phase=ringing]", timeout=10_000)
    await page.wait_for_selector("#p-repeat:not([hidden])")
    assert "1" in await page.inner_text("#p-repeat")
    history = await page.inner_text("#p-history")
    assert first["number"] in history and "<script>alert(1)</script>" in history, (
        "citizen text is shown as text"
    )
    assert await page.locator("#p-history script").count() == 0
    await desk.shot("desk-repeat-caller")
    assert desk.errors == []


async def test_given_the_event_stream_drops_during_a_call_then_nothing_is_missing_after_it_resumes(
    standin,
    redis_url,
    server_factory,
    model_path,
    say,
    desk_tab,
) -> None:
    srv = await _server(
        standin,
        redis_url,
        server_factory,
        model_path,
        answer_delay_s=0.5,
        speech=str(say(OPERATOR_SAYS)),
    )
    proxy = await FlakyProxy(int(srv.url.rsplit(":", 1)[1])).start()
    try:
        desk = await desk_tab(f"http://127.0.0.1:{proxy.port}")
        await desk.sign_in("1001")
        await _ready(desk)
        page = desk.page
        caller = standin.sim.incoming_call("13805510003", "12345", speech=str(say(CALLER_SAYS * 2)))
        await page.wait_for_selector("#panel[data-phase=talking]", timeout=10_000)
        await page.wait_for_selector("#transcript .seg.final", timeout=60_000)
        before = len(await _events(srv, "transcript.final"))
        proxy.drop()  # the desk's network drops mid-call
        await page.wait_for_selector("#conn.lost", timeout=10_000)
        await desk.shot("desk-connection-lost")
        await wait_for(
            lambda: _more(srv, before), what="segments while the desk was away", timeout=40
        )
        proxy.restore()
        await page.wait_for_selector("#conn.live", timeout=15_000)
        standin.sim.remote_hangup(caller.id)
        await page.wait_for_selector("#panel[data-phase=ended]", timeout=15_000)
        done = await wait_for(lambda: _events(srv, "transcript.done"), what="done", timeout=20)
        assert done
        finals = await _events(srv, "transcript.final")
        await page.wait_for_function(
            f"document.querySelectorAll('#transcript .seg.final').length >= {len(finals)}",
            timeout=10_000,
        )
        for side in ("caller", "operator"):  # a final takes its partial's place on the page
            shown = await page.locator(f"#transcript .seg.final.{side} .text").all_inner_texts()
            sent = [f["text"] for f in finals if f["side"] == side]
            assert shown == sent, f"every {side} segment once, in order"
        await desk.shot("desk-resumed")
    finally:
        await proxy.stop()


async def _more(srv: Any, before: int) -> bool:
    return len(await _events(srv, "transcript.final")) > before + 1


async def test_given_a_caller_hangs_up_while_the_seat_rings_then_the_panel_closes(
    standin,
    redis_url,
    server_factory,
    model_path,
    desk_tab,
) -> None:
    srv = await _server(standin, redis_url, server_factory, "", answer_delay_s=30.0)
    desk = await desk_tab(srv.url, locale="en-US")
    await desk.sign_in("1001")
    await _ready(desk)
    page = desk.page
    caller = standin.sim.incoming_call("13805510004", "12345")
    await page.wait_for_selector("#panel[data-phase=ringing]", timeout=10_000)
    standin.sim.remote_hangup(caller.id)
    await page.wait_for_selector("#panel", state="hidden", timeout=10_000)
    assert await page.inner_text("#idle") == "市民已挂断"
    await page.wait_for_selector("#seat-state[data-state=ready]", timeout=10_000)
    await desk.shot("desk-caller-hung-up")
    await page.keyboard.press("?")  # the shortcuts' help overlay
    await page.wait_for_selector("#help:not([hidden])")
    await desk.shot("desk-help")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Alt+N")  # not ready, by the keyboard
    await page.wait_for_selector("#seat-state[data-state=not_ready]", timeout=10_000)
    assert desk.errors == []


async def test_given_a_user_when_they_switch_to_english_then_it_stays_with_their_account(
    standin, redis_url, server_factory, model_path, desk_tab
) -> None:
    srv = await _server(standin, redis_url, server_factory, "")
    directory = srv.app[TICKETS].directory
    await directory.add_user("banzhang", Role.SUPERVISOR, name="值班长")
    await directory.set_password("banzhang", PASSWORD)
    desk = await desk_tab(srv.url)
    page = desk.page
    await page.goto(f"{srv.url}/login")
    assert await page.inner_text("h1") == "12345 政务服务便民热线", "Chinese first"
    await desk.shot("login-zh")
    await desk.sign_in("banzhang")
    assert page.url.endswith("/home")
    await desk.shot("home-supervisor-zh")
    await page.goto(f"{srv.url}/desk")  # a supervisor has no seat: the page says why
    assert "无权" in await page.inner_text("main")
    await desk.shot("desk-forbidden-zh")
    await page.goto(f"{srv.url}/home")
    async with page.expect_navigation():
        await page.select_option("select[name=locale]", "en")
    assert "Home" in await page.inner_text("h1")
    await page.click("text=Sign out")
    await page.wait_for_url("**/login")
    await desk.sign_in("banzhang")
    assert "Home" in await page.inner_text("h1"), "the choice is kept with the account"
    await desk.shot("home-supervisor-en")
    assert [e for e in desk.errors if "403" not in e] == []
