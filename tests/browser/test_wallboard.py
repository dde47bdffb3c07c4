"""The wallboard in a real headless Chromium against the real server: call records for today
and the last four same weekdays and today's tickets seeded into SQL; the page shows the day's
figures, the TOP5 with counts and shares, hot words, a surge against last week and the trend
chart with today's series and the usual day's; a caller who starts waiting shows up without
a reload. Screenshots at 1920×1080 and 1366×768."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hotline.keys import SETTINGS, TICKETS
from hotline.tickets.models import NewTicket, Role
from hotline.tickets.schema import calls
from tests.browser.conftest import PASSWORD
from tests.conftest import make_settings, seats

TOPICS = {  # category → tickets today (and what the citizen said)
    "城乡建设/供水": (6, "小区停水两天了，什么时候恢复供水"),
    "物业管理": (5, "物业不管小区电梯故障"),
    "噪音扰民": (4, "楼下工地夜间施工噪音"),
    "交通出行": (3, "公交站台损坏"),
    "市政设施": (2, "路灯不亮，小区门口很黑"),
    "教育": (1, "孩子入学报名咨询"),
}
# Today: answered within 15 s, answered after 30 s, a short abandon, a long abandon, and an
# IVR-only call that never queued; (outcome, wait) cycled over the seeded calls.
OUTCOMES = [("answered", 5.0), ("answered", 30.0), ("abandoned", 3.0), ("abandoned", 40.0)]


def _call(
    n: str, at: datetime, outcome: str = "answered", wait: float | None = 5.0
) -> dict[str, Any]:
    answered = at + timedelta(seconds=wait or 0) if outcome == "answered" else None
    return {
        "call_id": n,
        "channel_id": n,
        "line": "12345",
        "queue": "general",
        "started_at": at,
        "answered_at": answered,
        "ended_at": at + timedelta(seconds=200),
        "outcome": outcome,
        "wait_s": wait,
    }


def _local_slot(at: datetime, tz: ZoneInfo) -> int:
    t = at.astimezone(tz)
    return (t.hour * 3600 + t.minute * 60 + t.second) // 1800


async def _seed(srv: Any) -> dict[str, Any]:
    tz = ZoneInfo(srv.app[SETTINGS].timezone)
    now = datetime.now(UTC)
    today = now.astimezone(tz).date()
    midnight = datetime.combine(today, datetime.min.time(), tz).astimezone(UTC)
    rows: list[dict[str, Any]] = []
    # The last hour: 12 calls, all today unless the test runs just after midnight.
    last_hour = [now - timedelta(minutes=4 * i + 1) for i in range(12)]
    for i, at in enumerate(last_hour):
        outcome, wait = OUTCOMES[i % 4]
        rows.append(_call(f"t-{i}", at, outcome, wait))
    rows.append(_call("t-ivr", now - timedelta(minutes=2), "self_service", None))
    # The same hour a week before: 2 calls; the four same weekdays at 08:00 and 08:10
    # local: 2, 4, 6 and 8 calls (a mean of 5 in the 08:00 slot).
    rows += [_call(f"w-{i}", now - timedelta(days=7, minutes=20 + i)) for i in range(2)]
    for k, n in enumerate((2, 4, 6, 8), start=1):
        day = today - timedelta(days=7 * k)
        eight = datetime.combine(day, datetime.min.time(), tz).replace(hour=8).astimezone(UTC)
        rows += [_call(f"h-{k}-{i}", eight + timedelta(minutes=i)) for i in range(n)]
    async with srv.app[TICKETS].tickets.engine.begin() as conn:
        await conn.execute(calls.insert(), rows)
    admin = await srv.app[TICKETS].directory.authenticate("test-admin-token")
    for category, (n, content) in TOPICS.items():
        for _ in range(n):
            await srv.app[TICKETS].tickets.create(
                NewTicket(content=content, category=category), admin
            )
    today_times = [r["started_at"] for r in rows if r["started_at"] >= midnight]
    return {"today_calls": len(today_times), "slot": _local_slot(now, tz), "tz": tz}


async def _server(standin: Any, redis_url: str, server_factory: Any) -> Any:
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    directory = srv.app[TICKETS].directory
    await directory.add_user("banzhang", Role.SUPERVISOR, name="值班长甲")
    await directory.set_password("banzhang", PASSWORD)
    return srv


CHART = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById('trend-chart'));
  const o = chart.getOption();
  const series = o.series.map(s => ({id: s.id, name: s.name, data: s.data}));
  return {labels: o.xAxis[0].data, series};
}"""


async def test_given_todays_calls_and_tickets_then_the_wallboard_shows_top5_and_the_trend(
    standin: Any, redis_url: str, server_factory: Any, desk_tab: Any
) -> None:
    srv = await _server(standin, redis_url, server_factory)
    seeded = await _seed(srv)
    wall = await desk_tab(srv.url)
    await wall.sign_in("banzhang")
    page = wall.page
    await page.goto(f"{srv.url}/wallboard")
    await page.wait_for_selector("#conn.live", timeout=10_000)
    await page.wait_for_selector("#topics tbody tr td.count")

    rows = await page.eval_on_selector_all(
        "#topics tbody tr",
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))",
    )
    assert rows == [
        ["1", "城乡建设/供水", "6", "28.6%"],
        ["2", "物业管理", "5", "23.8%"],
        ["3", "噪音扰民", "4", "19.0%"],
        ["4", "交通出行", "3", "14.3%"],
        ["5", "市政设施", "2", "9.5%"],
    ]
    assert "21" in await page.inner_text("#topics-total")

    chart = await page.evaluate(CHART)
    assert len(chart["labels"]) == 48 and chart["labels"][16] == "08:00"
    series = {s["id"]: s for s in chart["series"]}
    assert set(series) == {"today", "usual"}
    assert series["usual"]["name"] == "近四周同日均值"
    usual = series["usual"]["data"]
    # The mean of 2, 4, 6 and 8 at 08:00, and the two calls a week before in their slot.
    assert usual[16] in (5.0, 5.5) and sum(usual) == 5.5
    today = series["today"]["data"]
    slot = seeded["slot"]
    assert all(v is None for v in today[slot + 1 :]), "the line stops at the current half hour"
    assert sum(v for v in today[: slot + 1] if v is not None) == seeded["today_calls"]

    assert await page.inner_text("#k-calls") == str(seeded["today_calls"])
    if seeded["today_calls"] == 13:  # not just after midnight: every seeded call is today's
        assert await page.inner_text("#k-answer_rate") == "50.0%"  # 6 of 12 offered
        assert await page.inner_text("#k-answered_in_threshold_share") == "50.0%"  # 3 of 6
        assert await page.inner_text("#k-service_level") == "33.3%"  # 3 of 12 − 3
        assert "bad" in (await page.get_attribute("#tile-service_level", "class") or "")
    surge = page.locator("#surges li[data-kind=calls]")
    assert "flagged" in (await surge.get_attribute("class") or "")
    assert "6.5 倍" in await surge.inner_text()  # 13 calls against 2
    assert await page.locator("#surges li[data-kind=topic].flagged").count() == 2  # 供水, 物业
    await page.wait_for_selector("#words .w")
    words = await page.inner_text("#words")
    assert "小区" in words and "停水" in words
    assert await page.inner_text("#k-waiting") == "0"
    await wall.shot("wallboard-1366x768")

    # A caller who starts waiting (no seat is ready) shows without a reload.
    standin.sim.incoming_call("13805510009", "12345")
    await page.wait_for_function(
        "() => document.getElementById('k-waiting').textContent === '1'", timeout=15_000
    )
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.wait_for_timeout(300)
    await wall.shot("wallboard-1920x1080")
    overflow = await page.evaluate(
        "() => document.documentElement.scrollHeight > window.innerHeight"
        " || document.documentElement.scrollWidth > window.innerWidth"
    )
    assert not overflow, "one screen, no scrolling"
    assert wall.errors == []


async def test_given_the_english_locale_then_the_wallboard_speaks_english(
    standin: Any, redis_url: str, server_factory: Any, desk_tab: Any
) -> None:
    srv = await _server(standin, redis_url, server_factory)
    wall = await desk_tab(srv.url, locale="en")
    await page_in_english(wall, srv)
    page = wall.page
    await page.wait_for_selector("#conn.live", timeout=10_000)
    assert "No tickets yet today" in await page.inner_text("#topics")
    assert await page.inner_text("#k-calls") == "0"
    assert await page.inner_text("#k-answer_rate") == "—"
    assert await page.is_visible("#trend-note"), "no usual day to compare with"
    await wall.shot("wallboard-empty-en-1366x768")
    assert wall.errors == []


async def page_in_english(wall: Any, srv: Any) -> None:
    await wall.page.goto(f"{srv.url}/login?lang=en")
    await wall.sign_in("banzhang")
    await wall.page.goto(f"{srv.url}/wallboard")
