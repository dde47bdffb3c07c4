"""The wallboard's arithmetic: the local day, half-hour buckets, the usual day, surges, the
day's TOP5 and hot words."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.agent_desk import wallboard_data as wd

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 2)  # a Wednesday


def local(h: int, m: int = 0, s: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, h, m, s, tzinfo=SH).astimezone(UTC)


def test_given_a_utc_instant_then_the_day_is_the_offices_local_day() -> None:
    late_utc = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on the 2nd in Shanghai
    assert wd.local_day(late_utc, SH) == DAY
    start, end = wd.day_window(DAY, SH)
    assert start == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


def test_given_a_dst_day_then_its_window_is_23_hours() -> None:
    start, end = wd.day_window(date(2026, 3, 29), ZoneInfo("Europe/Berlin"))
    assert (end - start).total_seconds() == 23 * 3600


def test_the_same_weekdays_are_the_four_weeks_before() -> None:
    days = wd.same_weekdays(DAY)
    assert days == [date(2026, 11, 25), date(2026, 11, 18), date(2026, 11, 11), date(2026, 11, 4)]
    assert {d.isoweekday() for d in days} == {DAY.isoweekday()}


def test_slot_labels_are_48_half_hours() -> None:
    labels = wd.slot_labels()
    assert len(labels) == 48
    assert labels[:3] == ["00:00", "00:30", "01:00"] and labels[-1] == "23:30"


@pytest.mark.parametrize(
    ("when", "slot"),
    [
        (local(0, 0), 0),
        (local(0, 29, 59), 0),
        (local(0, 30), 1),
        (local(9, 15), 18),
        (local(23, 59, 59), 47),
    ],
)
def test_given_a_call_then_it_falls_in_its_local_half_hour(when: datetime, slot: int) -> None:
    counts = wd.bucket_counts([when], DAY, SH)
    assert counts[slot] == 1 and sum(counts) == 1


def test_given_calls_outside_the_day_then_they_are_not_counted() -> None:
    times = [local(23, 59, day=date(2026, 12, 1)), local(0, 0, day=date(2026, 12, 3)), local(8)]
    counts = wd.bucket_counts(times, DAY, SH)
    assert sum(counts) == 1 and counts[16] == 1


@pytest.mark.parametrize(
    ("days", "mean"),
    [
        ([[2, 0], [4, 2]], [3.0, 1.0]),
        ([[2, 0], [0, 0], [4, 2]], [3.0, 1.0]),  # a day with no call at all is no data
        ([[0, 0], [0, 0]], None),
        ([], None),
        ([[1, 0], [0, 0], [0, 1]], [0.5, 0.5]),
    ],
)
def test_the_usual_day_is_the_mean_of_the_days_with_calls(
    days: list[list[int]], mean: list[float] | None
) -> None:
    assert wd.mean_series(days) == mean


def test_given_today_then_the_slots_to_come_are_empty_not_zero() -> None:
    series = [1] * 48
    out = wd.upto_now(series, local(1, 10), DAY, SH)
    assert out[:3] == [1, 1, 1] and out[3:] == [None] * 45
    assert wd.upto_now(series, local(1, 10, day=date(2026, 12, 3)), DAY, SH) == series


def test_count_between_is_half_open() -> None:
    times = sorted([local(8), local(8, 30), local(9)])
    assert wd.count_between(times, local(8), local(9)) == 2


@pytest.mark.parametrize(
    ("current", "baseline", "ratio", "flagged"),
    [
        (30, 10, 3.0, True),
        (15, 10, 1.5, True),  # exactly the ratio
        (14, 10, 1.4, False),
        (9, 2, 4.5, False),  # too few calls to call it a surge
        (10, 0, None, True),  # nothing last week: the count alone decides
        (3, 0, None, False),
        (0, 0, None, False),
        (5, 20, 0.25, False),
    ],
)
def test_a_surge_is_clearly_above_the_same_hour_last_week(
    current: int, baseline: int, ratio: float | None, flagged: bool
) -> None:
    s = wd.surge(current, baseline)
    assert (s.current, s.baseline, s.ratio, s.flagged) == (current, baseline, ratio, flagged)
    assert s.kind == "calls"


def test_topic_surges_are_the_flagged_categories_steepest_first() -> None:
    now = {"供水": 12, "噪音扰民": 6, "物业管理": 8, "": 40, "交通": 5}
    before = {"供水": 2, "噪音扰民": 1, "物业管理": 7, "交通": 0}
    out = wd.topic_surges(now, before)
    assert [(s.name, s.ratio) for s in out] == [("交通", None), ("供水", 6.0), ("噪音扰民", 6.0)]
    assert all(s.kind == "topic" and s.flagged for s in out)


@pytest.mark.parametrize(
    ("rows", "top", "total"),
    [
        ([], [], 0),
        ([("供水", 3), (None, 1)], [("供水", 3, 0.75)], 4),
        (
            [("A", 5), ("B", 5), ("C", 4), ("D", 3), ("E", 2), ("F", 1)],
            [("A", 5, 0.25), ("B", 5, 0.25), ("C", 4, 0.2), ("D", 3, 0.15), ("E", 2, 0.1)],
            20,
        ),
        ([("供水 ", 2), ("供水", 2), ("", 4)], [("供水", 4, 0.5)], 8),  # the same name, added
        ([("B", 1), ("A", 1)], [("A", 1, 0.5), ("B", 1, 0.5)], 2),  # ties by name
    ],
)
def test_the_top_topics_have_count_and_share_of_every_ticket(
    rows: list[tuple[str | None, int]], top: list[tuple[str, int, float]], total: int
) -> None:
    got, n = wd.top_topics(rows)
    assert [(x.name, x.count, x.share) for x in got] == top
    assert n == total


def test_given_texts_then_hot_words_are_counted_once_per_text() -> None:
    sets = [
        wd.words_of("小区停水三天了，停水停水，物业不管"),
        wd.words_of("我们小区又停水了，请问什么时候恢复供水"),
        wd.words_of("楼下饭店油烟太大"),
    ]
    top = dict(wd.hot_words(sets))
    assert top["停水"] == 2, "three times in one text still counts once"
    assert top["小区"] == 2
    assert "我们" not in top and "请问" not in top and "什么" not in top, "stop words"
    assert all(len(w) >= 2 for w in top)


def test_given_a_name_number_or_latin_then_it_is_no_hot_word() -> None:
    words = wd.words_of("市民王建国来电13805510001反映ABC小区路灯不亮，李女士说停水了")
    assert {"小区", "停水"} <= words
    assert not any(ch.isdigit() or ch.isascii() for w in words for ch in w)
    assert (
        "王建国" not in words
        and "李女士" not in words
        and "市民" not in words
        and "反映" not in words
    )


def test_hot_words_are_ranked_by_texts_then_word_and_cut_at_n() -> None:
    sets = [frozenset({"停水", "噪音"}), frozenset({"停水"}), frozenset({"油烟", "噪音"})]
    assert wd.hot_words(sets, n=2) == [("停水", 2), ("噪音", 2)]
    assert wd.hot_words([]) == []


@pytest.mark.parametrize(
    ("transcript", "said"),
    [
        (None, ""),
        ("not json", ""),
        ('{"a": 1}', ""),
        (
            json.dumps(
                [
                    {"side": "caller", "text": "楼下饭店", "source": "description"},
                    {"side": "caller", "text": "油烟大", "source": "description"},
                    {"side": "caller", "text": "您好", "source": "live"},
                    {"side": "operator", "text": "好的", "source": "post"},
                ]
            ),
            "楼下饭店油烟大",
        ),
    ],
)
def test_a_calls_description_is_what_the_caller_recorded_while_waiting(
    transcript: str | None, said: str
) -> None:
    assert wd.description_of(transcript) == said
