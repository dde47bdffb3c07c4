"""The ticket workflow: every action in every status, and the closed loop's scenarios."""

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.tickets import workflow as wf
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.exceptions import Forbidden, IllegalTransition, InvalidInput
from hotline.tickets.models import (
    Actor,
    Kind,
    Role,
    Satisfaction,
    Status,
    SupervisionForm,
    TicketState,
    Urgency,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
# 1 hotline centre; 2 a district with street 3 below it; 4 a city bureau; 5 a utility.
TREE = wf.DepartmentTree({1: None, 2: 1, 3: 2, 4: 1, 5: 1})
RULES = wf.Rules(calendar=WorkCalendar(), tree=TREE)

OPERATOR = Actor(10, Role.OPERATOR)
DISPATCHER = Actor(11, Role.DISPATCHER)
SUPERVISOR = Actor(12, Role.SUPERVISOR)
DISTRICT = Actor(20, Role.DEPARTMENT, 2)
STREET = Actor(21, Role.DEPARTMENT, 3)
BUREAU = Actor(22, Role.DEPARTMENT, 4)
UTILITY = Actor(23, Role.DEPARTMENT, 5)
SYSTEM = Actor(None, Role.SYSTEM)

# For each action: an instance, the actor allowed to do it, and what the state must hold.
LEGAL: dict[str, tuple[wf.Action, Actor, dict]] = {
    "answer": (wf.Answer("已告知办理地点"), OPERATOR, {}),
    "dispatch": (wf.Dispatch(lead=2, co_handlers=(4,)), DISPATCHER, {}),
    "sign": (wf.SignFor(), DISTRICT, {}),
    "return": (wf.Return("不属于本单位职责"), DISTRICT, {}),
    "escalate": (wf.Escalate("两家单位均退回"), DISPATCHER, {}),
    "pass_down": (wf.PassDown(to=3), DISTRICT, {}),
    "contact": (wf.Contact("已电话联系"), DISTRICT, {}),
    "request_extension": (wf.RequestExtension(3, "需现场勘查"), DISTRICT, {}),
    "decide_extension": (
        wf.DecideExtension(True),
        DISPATCHER,
        {"extension_since": NOW, "extension_days": 3},
    ),
    "co_reply": (wf.CoReply("已配合检查"), BUREAU, {}),
    "reply": (wf.Reply("已处理完毕"), DISTRICT, {}),
    "review": (wf.Review(True), DISPATCHER, {}),
    "rate": (wf.Rate(Satisfaction.SATISFIED, 5), OPERATOR, {}),
    "redo": (wf.Redo("市民反映问题未解决"), DISPATCHER, {}),
    "supervise": (wf.Supervise(SupervisionForm.KEY, "重点督办"), SUPERVISOR, {}),
    "close": (wf.Close("市民诉求不合理"), DISPATCHER, {}),
    "reopen": (wf.Reopen("市民再次来电"), DISPATCHER, {}),
    "appeal": (
        wf.Appeal("已按规定处理", "现场照片"),
        DISTRICT,
        {"satisfaction": Satisfaction.UNSATISFIED, "stars": 1},
    ),
    "decide_appeal": (
        wf.DecideAppeal(True),
        SUPERVISOR,
        {"appeal_pending": True, "satisfaction": Satisfaction.UNSATISFIED},
    ),
    "merge": (wf.Merge("2026112300001"), OPERATOR, {}),
    "comment": (wf.Comment("补充说明"), DISTRICT, {}),
}


def state(status: Status, **kw: object) -> TicketState:
    base = TicketState(
        status=status,
        kind=Kind.COMPLAINT,
        created_at=NOW - timedelta(days=1),
        handler_id=2,
        co_handler_ids=(4,),
        first_department_id=2,
        reply_due=NOW + timedelta(days=5),
        dispatched_at=NOW - timedelta(days=1),
    )
    return replace(base, **kw)


S = Status
OPEN = set(Status) - {S.CLOSED, S.MERGED}
# Written from DOMAIN.md's closed loop, independently of the workflow's own registry.
EXPECTED: dict[str, set[Status]] = {
    "answer": {S.ACCEPTED},
    "dispatch": {S.ACCEPTED, S.RETURNED, S.ESCALATED},
    "sign": {S.DISPATCHED},
    "return": {S.DISPATCHED, S.IN_PROGRESS},
    "escalate": {S.RETURNED},
    "pass_down": {S.IN_PROGRESS},
    "contact": {S.DISPATCHED, S.IN_PROGRESS, S.EXTENSION_PENDING},
    "request_extension": {S.IN_PROGRESS},
    "decide_extension": {S.EXTENSION_PENDING},
    "co_reply": {S.DISPATCHED, S.IN_PROGRESS, S.EXTENSION_PENDING},
    "reply": {S.IN_PROGRESS},
    "review": {S.REPLIED},
    "rate": {S.ANSWERED, S.FOLLOW_UP},
    "redo": {S.UNSATISFIED},
    "supervise": OPEN,
    "close": {S.ANSWERED, S.FOLLOW_UP, S.UNSATISFIED},
    "reopen": {S.CLOSED},
    "appeal": {S.CLOSED, S.UNSATISFIED},
    "decide_appeal": {S.CLOSED, S.UNSATISFIED},
    "merge": OPEN,
    "comment": set(Status),
}


def test_every_action_has_a_row_in_the_table() -> None:
    assert set(LEGAL) == set(wf.allowed_actions()) == set(EXPECTED)
    assert {k: set(v) for k, v in wf.allowed_actions().items()} == EXPECTED


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("name", sorted(LEGAL))
def test_given_status_when_action_then_allowed_exactly_where_the_workflow_says(
    name: str, status: Status
) -> None:
    action, actor, needs = LEGAL[name]
    s = state(status, **needs)
    if status in EXPECTED[name]:
        out = wf.apply(s, action, actor, NOW, RULES)
        assert out.action == name
    else:
        with pytest.raises(IllegalTransition) as err:
            wf.apply(s, action, actor, NOW, RULES)
        assert status.value in err.value.message and name in err.value.message
        assert err.value.status == 409


def run(s: TicketState, steps: list[tuple[wf.Action, Actor]], now: datetime = NOW) -> TicketState:
    for action, actor in steps:
        s = wf.apply(s, action, actor, now, RULES).state
    return s


def test_closed_loop_dispatch_sign_reply_review_rate_close() -> None:
    s = TicketState(status=Status.ACCEPTED, kind=Kind.COMPLAINT, created_at=NOW)
    s = run(s, [(wf.Dispatch(lead=2), OPERATOR)])
    assert s.status is Status.DISPATCHED and s.reply_due == datetime(2026, 12, 3, tzinfo=TZ)
    s = run(s, [(wf.SignFor(), DISTRICT), (wf.Reply("已清理"), DISTRICT)])
    assert s.status is Status.REPLIED
    s = run(s, [(wf.Review(True), DISPATCHER)])
    assert s.status is Status.FOLLOW_UP
    s = run(s, [(wf.Rate(Satisfaction.BASICALLY_SATISFIED, 4, "survey"), SYSTEM)])
    assert s.status is Status.CLOSED and s.closed_at == NOW


def test_thin_reply_is_sent_back_for_redo_with_a_fresh_deadline() -> None:
    s = state(Status.REPLIED)
    later = NOW + timedelta(days=2)
    out = wf.apply(s, wf.Review(False, "答复过于简单"), DISPATCHER, later, RULES)
    assert out.state.status is Status.IN_PROGRESS and out.state.redo_count == 1
    assert out.state.reply_due == RULES.calendar.add_working_days(later, 7)
    with pytest.raises(InvalidInput):
        wf.apply(s, wf.Review(False, "  "), DISPATCHER, later, RULES)


def test_first_responder_rule_limits_returns_then_escalation_rules_it() -> None:
    s = TicketState(status=Status.ACCEPTED, kind=Kind.COMPLAINT, created_at=NOW)
    s = run(s, [(wf.Dispatch(lead=2), OPERATOR), (wf.Return("不归我们管"), DISTRICT)])
    assert s.status is Status.RETURNED and s.returns == 1
    s = run(s, [(wf.Dispatch(lead=4), DISPATCHER), (wf.Return("也不归我们管"), BUREAU)])
    assert s.returns == 2 and s.first_department_id == 2
    s = run(s, [(wf.Dispatch(lead=2), DISPATCHER)])
    with pytest.raises(IllegalTransition, match="first-responder"):
        wf.apply(s, wf.Return("还是不归我们"), DISTRICT, NOW, RULES)
    # The hotline may escalate a returned ticket; the ruling cannot be returned.
    r = state(Status.RETURNED, returns=1)
    r = run(r, [(wf.Escalate("职责争议"), DISPATCHER), (wf.Dispatch(lead=4), SUPERVISOR)])
    assert r.ruled and r.status is Status.DISPATCHED
    with pytest.raises(IllegalTransition, match="ruling"):
        wf.apply(r, wf.Return("不是我们"), BUREAU, NOW, RULES)
    with pytest.raises(Forbidden):
        wf.apply(state(Status.ESCALATED), wf.Dispatch(lead=4), OPERATOR, NOW, RULES)


def test_pass_down_the_tree_and_a_return_goes_back_up_not_to_the_hotline() -> None:
    s = state(Status.IN_PROGRESS)
    s = run(s, [(wf.PassDown(to=3, note="请街道办理"), DISTRICT)])
    assert s.status is Status.DISPATCHED and s.handler_id == 3 and s.delegated_by == (2,)
    assert s.reply_due == state(Status.IN_PROGRESS).reply_due  # the district's deadline holds
    back = run(s, [(wf.Return("不在辖区"), STREET)])
    assert back.status is Status.IN_PROGRESS and back.handler_id == 2 and back.returns == 0
    with pytest.raises(InvalidInput):
        wf.apply(state(Status.IN_PROGRESS), wf.PassDown(to=4), DISTRICT, NOW, RULES)
    with pytest.raises(InvalidInput):
        wf.apply(state(Status.IN_PROGRESS, handler_id=3), wf.PassDown(to=2), STREET, NOW, RULES)


def test_only_the_handler_acts_and_co_handlers_add_their_part() -> None:
    s = state(Status.IN_PROGRESS)
    with pytest.raises(Forbidden):
        wf.apply(s, wf.Reply("x"), BUREAU, NOW, RULES)
    with pytest.raises(Forbidden):
        wf.apply(s, wf.Reply("x"), OPERATOR, NOW, RULES)
    with pytest.raises(Forbidden):
        wf.apply(s, wf.CoReply("x"), UTILITY, NOW, RULES)
    out = wf.apply(s, wf.CoReply("供水已恢复"), BUREAU, NOW, RULES)
    assert out.records[0].data == {"text": "供水已恢复", "department_id": 4, "co": True}
    with pytest.raises(Forbidden):
        wf.apply(s, wf.Comment("hi"), UTILITY, NOW, RULES)
    with pytest.raises(Forbidden):
        wf.apply(state(Status.ACCEPTED), wf.Dispatch(lead=2), DISTRICT, NOW, RULES)


def test_extension_approved_after_pending_over_a_holiday_pauses_and_extends() -> None:
    since = datetime(2026, 9, 30, 9, tzinfo=TZ)
    decided = datetime(2026, 10, 8, 9, tzinfo=TZ)
    due = datetime(2026, 10, 10, tzinfo=TZ)  # end of Friday 9 October
    s = state(Status.IN_PROGRESS, reply_due=due)
    s = wf.apply(s, wf.RequestExtension(2, "需协调"), DISTRICT, since, RULES).state
    assert s.status is Status.EXTENSION_PENDING
    out = wf.apply(s, wf.DecideExtension(True, "同意"), DISPATCHER, decided, RULES)
    # Pending for 1 working day (30 Sep 09:00 to 8 Oct 09:00), then +2 working days:
    # Sat 10 Oct (working), Mon 12, Tue 13 → end of Tuesday 13th.
    assert out.state.reply_due == datetime(2026, 10, 14, tzinfo=TZ)
    refused = wf.apply(s, wf.DecideExtension(False, "不同意"), DISPATCHER, decided, RULES)
    assert refused.state.reply_due == datetime(2026, 10, 11, tzinfo=TZ)
    no_pause = replace(RULES, policy=replace(RULES.policy, pause_on_extension=False))
    kept = wf.apply(s, wf.DecideExtension(False), DISPATCHER, decided, no_pause)
    assert kept.state.reply_due == due
    with pytest.raises(InvalidInput):
        wf.apply(state(Status.IN_PROGRESS), wf.RequestExtension(99, "x"), DISTRICT, NOW, RULES)


def test_emergency_mode_and_urgent_items_use_hour_limits() -> None:
    emergency = replace(RULES, emergency=True)
    s = TicketState(status=Status.ACCEPTED, kind=Kind.CONSULTATION, created_at=NOW)
    out = wf.apply(s, wf.Dispatch(lead=5), OPERATOR, NOW, emergency)
    assert out.state.reply_due == NOW + timedelta(hours=24) and out.state.emergency
    urgent = replace(s, urgency=Urgency.URGENT)
    out = wf.apply(urgent, wf.Dispatch(lead=5), OPERATOR, NOW, RULES)
    assert out.state.contact_due == NOW + timedelta(minutes=30)
    contacted = wf.apply(
        out.state, wf.Contact("已到现场"), UTILITY, NOW + timedelta(minutes=5), RULES
    )
    assert contacted.state.contacted_at == NOW + timedelta(minutes=5)


def test_unsatisfied_rating_leads_to_redo_supervision_or_a_reasoned_close() -> None:
    s = state(Status.FOLLOW_UP)
    s = run(s, [(wf.Rate(Satisfaction.UNSATISFIED, 1), OPERATOR)])
    assert s.status is Status.UNSATISFIED and s.closed_at is None
    redo = run(s, [(wf.Redo("未解决"), DISPATCHER)])
    assert redo.status is Status.IN_PROGRESS and redo.redo_count == 1
    sup = run(s, [(wf.Supervise(SupervisionForm.ON_SITE, "现场督办"), SUPERVISOR)])
    assert sup.status is Status.IN_PROGRESS and sup.supervision is SupervisionForm.ON_SITE
    with pytest.raises(Forbidden):
        wf.apply(s, wf.Supervise(SupervisionForm.KEY, "x"), DISPATCHER, NOW, RULES)
    with pytest.raises(InvalidInput):
        wf.apply(s, wf.Close(""), DISPATCHER, NOW, RULES)
    assert run(s, [(wf.Close("诉求超出政策范围"), DISPATCHER)]).status is Status.CLOSED


def test_low_rating_appeal_once_and_an_upheld_appeal_voids_the_rating() -> None:
    s = state(Status.CLOSED, satisfaction=Satisfaction.BASICALLY_SATISFIED, stars=2)
    s = run(s, [(wf.Appeal("已按规定处理"), DISTRICT)])
    assert s.appeal_pending
    with pytest.raises(IllegalTransition, match="already"):
        wf.apply(s, wf.Appeal("again"), DISTRICT, NOW, RULES)
    s = run(s, [(wf.DecideAppeal(True, "证据充分"), SUPERVISOR)])
    assert s.rating_void and not s.appeal_pending
    good = state(Status.CLOSED, satisfaction=Satisfaction.SATISFIED, stars=5)
    with pytest.raises(IllegalTransition, match="low rating"):
        wf.apply(good, wf.Appeal("x"), DISTRICT, NOW, RULES)


def test_answered_on_the_call_then_rated_and_reopened() -> None:
    s = TicketState(status=Status.ACCEPTED, kind=Kind.CONSULTATION, created_at=NOW)
    s = run(s, [(wf.Answer("社保卡补办在各区服务中心"), OPERATOR)])
    assert s.status is Status.ANSWERED
    s = run(s, [(wf.Rate(Satisfaction.SATISFIED), SYSTEM)])
    assert s.status is Status.CLOSED
    s = run(s, [(wf.Reopen("市民称信息有误"), DISPATCHER)])
    assert s.status is Status.ACCEPTED and s.reopen_count == 1 and s.closed_at is None
    with pytest.raises(InvalidInput):
        wf.apply(state(Status.ANSWERED), wf.Rate(Satisfaction.SATISFIED, 6), OPERATOR, NOW, RULES)


def test_dispatch_to_unknown_department_is_refused_and_co_handlers_deduplicated() -> None:
    s = TicketState(status=Status.ACCEPTED, kind=Kind.REPORT, created_at=NOW)
    with pytest.raises(InvalidInput):
        wf.apply(s, wf.Dispatch(lead=99), OPERATOR, NOW, RULES)
    out = wf.apply(s, wf.Dispatch(lead=2, co_handlers=(4, 2, 4, 5)), OPERATOR, NOW, RULES)
    assert out.state.co_handler_ids == (4, 5)
    assert [r.data["role"] for r in out.records] == ["lead", "co", "co"]


def test_diff_names_changed_fields() -> None:
    a = state(Status.DISPATCHED)
    b = wf.apply(a, wf.SignFor(), DISTRICT, NOW, RULES).state
    assert wf.diff(a, b) == {"status": (Status.DISPATCHED, Status.IN_PROGRESS)}
    assert wf.is_overdue(a, NOW + timedelta(days=6)) and not wf.is_overdue(a, NOW)


def test_the_open_deadline_index_covers_exactly_the_handling_statuses() -> None:
    import re

    from hotline.tickets.models import HANDLING_STATUSES
    from hotline.tickets.schema import OPEN_DUE

    assert set(re.findall(r"'(\w+)'", OPEN_DUE)) == {s.value for s in HANDLING_STATUSES}
