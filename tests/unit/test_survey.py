"""Follow-up survey calls: when to try, and one call's dialogue."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.ivr.engine import Hangup, Say, Silence
from hotline.surveys.calls import Result, SurveyCall, SurveyPolicy, due

TZ = ZoneInfo("Asia/Shanghai")
P = SurveyPolicy()


def at(h: int, m: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=TZ)


@pytest.mark.parametrize(
    ("attempts", "now", "expected"),
    [
        ([], at(10), True),
        ([], at(8, 59), False),  # before the calling hours
        ([], at(20, 0), False),  # after them
        ([at(10)], at(13, 59), False),  # 4 h after the first try
        ([at(10)], at(14, 0), True),
        ([at(10), at(14)], at(19, 59), False),  # then 20 h
        ([at(10), at(14)], at(10, 0, day=24), True),
        ([at(10), at(14), at(10, day=24)], at(15, day=25), False),  # three tries is all
    ],
)
def test_retry_schedule_within_hours(
    attempts: list[datetime], now: datetime, expected: bool
) -> None:
    assert due(attempts, now, P) is expected


def test_answered_and_rated() -> None:
    c = SurveyCall("ch", "2026112300001")
    c, cmds = c.answered()
    assert cmds == [
        Say(
            ("sound:hotline/survey-intro", "digits:2026112300001", "sound:hotline/survey-question"),
            c.playback_id,
        )
    ]
    first_pb = c.playback_id
    c, cmds = c.dtmf("2")  # barge-in during the question
    assert cmds[0] == Silence(first_pb) and cmds[1].media == ("sound:hotline/survey-thanks",)  # type: ignore[union-attr]
    c, cmds = c.playback_done(c.playback_id)
    assert cmds == [Hangup(), Result("answered", "2")]


def test_wrong_key_then_silence_is_a_refusal() -> None:
    c, _ = SurveyCall("ch", "n").answered()
    c, cmds = c.dtmf("7")
    assert "sound:hotline/invalid" in cmds[-1].media  # type: ignore[union-attr]
    c, cmds = c.playback_done(c.playback_id)
    token = cmds[0].token  # type: ignore[union-attr]
    c, cmds = c.timeout(token)
    assert cmds == [Hangup(), Result("refused")]
    assert c.dtmf("1") == (c, [])  # too late


def test_hang_ups_at_each_stage() -> None:
    ringing = SurveyCall("ch", "n")
    assert ringing.hung_up()[1] == [Result("no_answer")]
    asked, _ = ringing.answered()
    assert asked.hung_up()[1] == [Result("refused")]
    thanked, _ = asked.dtmf("1")
    assert thanked.hung_up()[1] == [Result("answered", "1")]
    done, _ = thanked.hung_up()
    assert done.hung_up() == (done, [])


def test_stale_timer_is_ignored() -> None:
    c, _ = SurveyCall("ch", "n").answered()
    assert c.timeout("ch:999") == (c, [])
    assert c.playback_done("other") == (c, [])
