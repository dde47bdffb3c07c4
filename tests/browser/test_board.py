"""The supervisor board in a real headless Chromium against the real server and the
stand-in: a surge on two seats moves the waiting count, the service level and the alerts; the
supervisor forces a seat not ready and switches the emergency announcement, which the next
caller hears."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.keys import STORE, TICKETS
from hotline.queue.models import OperatorState
from hotline.tickets.models import Role
from tests.browser.conftest import PASSWORD
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for

SURGE = 8
TOTAL = '#groups tr[data-key="*"]'


async def _server(standin: Any, redis_url: str, server_factory: Any, **over: Any) -> Any:
    over.setdefault("supervisor_endpoints", ["PJSIP/2001"])  # the supervisor's own phone
    srv = await server_factory(make_settings(standin, redis_url, **over))
    directory = srv.app[TICKETS].directory
    await directory.add_user("banzhang", Role.SUPERVISOR, name="班长甲")
    await directory.set_password("banzhang", PASSWORD)
    return srv


async def _cell(page: Any, selector: str) -> str:
    return str(await page.inner_text(selector)).strip()


async def _until(page: Any, selector: str, ok: Any, timeout: float = 10.0) -> str:
    """The page's own text, polled until it passes (the CSP forbids evaluated predicates)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        text = await _cell(page, selector)
        if ok(text):
            return text
        if loop.time() > end:
            raise AssertionError(f"{selector} still shows {text!r}")
        await asyncio.sleep(0.2)


async def test_given_a_surge_when_the_supervisor_watches_then_the_board_moves_and_acts(
    standin: Any,
    redis_url: str,
    server_factory: Any,
    desk_tab: Any,
) -> None:
    add_seats(standin, 2, talk_s=1.2)
    add_seats(standin, 1, first=1003)
    ops = seats(2) + seats(1, {"emergency": 5}, first=1003)
    srv = await _server(
        standin,
        redis_url,
        server_factory,
        operators=ops,
        sla_seconds=2.0,
        short_abandon_seconds=0.2,
        board_queue_waiting_max=3,
        announce_first_s=0,
        describe_after_s=0,
    )
    await ready_all(srv, ["1001", "1002"])
    board = await desk_tab(srv.url)
    await board.sign_in("banzhang")
    page = board.page
    await page.goto(f"{srv.url}/board")
    await page.wait_for_selector("#conn.live", timeout=10_000)
    await page.wait_for_selector('#operators tr[data-operator="1001"][data-state=ready]')
    assert await _cell(page, f"{TOTAL}[data-window=today] td.waiting") == "0"
    assert "15" not in await _cell(page, "#formulas"), "the formula names the 2 s threshold"
    assert "2秒内接通量 ÷ (呼入量 − 短时放弃量)" in await _cell(page, "#formulas")
    await board.shot("board-quiet")

    callers = [standin.sim.incoming_call(f"1390000{i:04d}", "12345") for i in range(SURGE)]
    await _until(page, f"{TOTAL}[data-window=today] td.waiting", lambda t: int(t) >= 4)
    await page.wait_for_selector("#alerts li[data-kind=queue_waiting]", timeout=10_000)
    await board.shot("board-surge")
    # As calls end their records count: late answers pull the service level under target.
    await page.wait_for_selector("#alerts li[data-kind=service_level]", timeout=40_000)
    level = await page.get_attribute(
        f"{TOTAL}[data-window=last_15m] td.service_level", "data-value"
    )
    assert level is not None and float(level) < 0.8
    await _until(page, f"{TOTAL}[data-window=today] td.waiting", lambda t: t == "0", 40)
    assert await page.locator("#alerts li[data-kind=queue_waiting]").count() == 0
    assert "2 " in await _cell(page, "#staffing") or await page.locator("#staffing li").count() == 2
    await board.shot("board-after-surge")

    # Force seat 1001 not ready from the board.
    await wait_for(_state_is(srv, "1001", OperatorState.READY), what="1001 ready", timeout=20)
    await page.wait_for_selector('#operators tr[data-operator="1001"][data-state=ready]')
    await page.click('#operators tr[data-operator="1001"] button[data-action=not_ready]')
    await page.wait_for_selector('#operators tr[data-operator="1001"][data-state=not_ready]')
    op = await srv.app[STORE].get_operator("1001")
    assert op is not None and op.state is OperatorState.NOT_READY and op.reason == "supervisor"
    # The keyboard: focus stays on the row's button while the board redraws itself.
    await page.focus('#operators tr[data-operator="1001"] button[data-action=ready]')
    drawn = await page.get_attribute("body", "data-board-time")
    await page.wait_for_selector(f"body:not([data-board-time='{drawn}'])", timeout=10_000)
    assert await page.locator('#operators tr[data-operator="1001"] button:focus').count() == 1
    assert "当前排队 0 人" in await _cell(page, "#live-summary")

    # Switch the emergency announcement on: the next caller hears the emergency menu.
    await ready_all(srv, ["1003"])
    await page.click("button.flag-switch[data-flag=emergency]")
    await page.wait_for_selector("#flags li[data-flag=emergency] .flag-state[data-on='1']")
    caller = standin.sim.incoming_call("13900009999", "12345")
    await wait_for(
        lambda: "sound:hotline/emergency" in caller.heard, what="the emergency menu", timeout=10
    )
    assert all("sound:hotline/emergency" not in c.heard for c in callers)
    await board.shot("board-emergency")
    await page.select_option("select[name=locale]", "en")
    await page.wait_for_selector("#h-alerts:text('Alerts')", timeout=10_000)
    await page.wait_for_selector("#conn.live", timeout=10_000)
    assert "answered within 2 s ÷ (offered − short abandons)" in await _cell(page, "#formulas")
    await board.shot("board-en")
    standin.sim.remote_hangup(caller.id)
    await asyncio.sleep(0)
    assert board.errors == []


def _state_is(srv: Any, op_id: str, state: OperatorState) -> Any:
    async def check() -> Any:
        op = await srv.app[STORE].get_operator(op_id)
        return op if op is not None and op.state is state else None

    return check


async def test_given_a_live_call_when_the_supervisor_whispers_then_the_operator_is_told(
    standin: Any,
    redis_url: str,
    server_factory: Any,
    desk_tab: Any,
) -> None:
    add_seats(standin, 1)
    add_seats(standin, 1, first=2001)  # the supervisor's own phone
    srv = await _server(standin, redis_url, server_factory, operators=seats(1))
    directory = srv.app[TICKETS].directory
    await directory.add_user("1001", Role.OPERATOR, name="话务员甲")
    await directory.set_password("1001", PASSWORD)
    desk = await desk_tab(srv.url)
    await desk.sign_in("1001")
    await desk.page.wait_for_selector("#conn.live", timeout=10_000)
    await desk.page.click("#btn-ready")
    await desk.page.wait_for_selector("#seat-state[data-state=ready]", timeout=10_000)
    board = await desk_tab(srv.url)
    await board.sign_in("banzhang")
    page = board.page
    await page.goto(f"{srv.url}/board")
    await page.wait_for_selector("#conn.live", timeout=10_000)

    caller = standin.sim.incoming_call("13800138000", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 10)
    agent = next(c for c in standin.sim.bridges[caller.bridge].channels if c != caller.id)
    row = '#operators tr[data-operator="1001"]'
    await page.wait_for_selector(f"{row}[data-state=on_call] button[data-coach=whisper]")
    await page.fill("#coach-seat", "PJSIP/2001")
    await page.click(f"{row} button[data-coach=whisper]")
    await page.wait_for_selector(f"{row}[data-coached=whisper][data-joined='1']", timeout=10_000)
    snoop, target, spy, whisper = standin.sim.snoops[-1]
    assert (target, spy, whisper) == (agent, "both", "out")
    sup = next(c for c in standin.sim.channels.values() if c.endpoint == "PJSIP/2001")
    assert set(standin.sim.bridges[sup.bridge].channels) == {snoop, sup.id}
    await desk.page.wait_for_selector("#p-coached:not([hidden])", timeout=10_000)
    await board.shot("board-whisper")
    await desk.shot("desk-coached")

    await page.click(f"{row} button[data-coach=stop]")
    await page.wait_for_selector(f"{row} button[data-coach=whisper]", timeout=10_000)
    await desk.page.wait_for_selector("#p-coached", state="hidden", timeout=10_000)
    assert sup.id not in standin.sim.channels and caller.id in standin.sim.channels
    standin.sim.remote_hangup(caller.id)
    assert board.errors == [] and desk.errors == []
