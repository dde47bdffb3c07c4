"""The IVR flow engine as a pure state machine, and flow files with errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ivr import engine as e
from hotline.ivr.flow import FlowError, load_flows, parse_flow
from hotline.ivr.runtime import BUILT_IN
from hotline.telephony import session as s

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
MON_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
SUN_23 = datetime(2026, 11, 22, 23, 30, tzinfo=TZ)

FLOW = parse_flow(
    """
name: test
start: hours
nodes:
  hours:
    type: condition
    time: "08:00-22:00"
    weekdays: [1, 2, 3, 4, 5, 6, 7]
    then: menu
    else: closed
  closed: {type: hangup, prompt: hotline/closed}
  menu:
    type: menu
    prompt: hotline/menu
    options: {"1": labour, "2": ask, "9": transfer}
    timeout_s: 5
    retries: 2
    default: queue
  labour: {type: set, skill: labour, priority: 3, next: queue}
  ask:
    type: collect
    prompt: hotline/enter-ticket
    store_as: ticket
    min_digits: 13
    max_digits: 13
    inter_digit_s: 4
    retries: 1
    next: status
    on_fail: queue
  status: {type: ticket_status, number_from: ticket, found: bye, not_found: sorry}
  sorry: {type: announce, prompt: hotline/ticket-not-found, next: queue}
  bye: {type: hangup, prompt: hotline/goodbye}
  transfer: {type: transfer, number: "12315"}
  queue: {type: enqueue}
""",
    "test.yaml",
)


def kinds(actions: list[e.IvrAction]) -> list[str]:
    return [type(a).__name__ for a in actions]


def started(at: datetime = MON_10) -> e.IvrState:
    st_, acts = e.start(FLOW, "c1", at)
    assert kinds(acts) == ["Say"] and st_.node == "menu"
    return st_


def run(st_: e.IvrState, *events: e.IvrEvent) -> tuple[e.IvrState, list[e.IvrAction]]:
    out: list[e.IvrAction] = []
    for ev in events:
        st_, acts = e.step(FLOW, st_, ev)
        out += acts
    return st_, out


def done(st_: e.IvrState) -> e.PromptDone:
    return e.PromptDone(st_.playback_id)


def test_menu_choice_sets_skill_and_queues() -> None:
    st_ = started()
    st_, acts = run(st_, done(st_))
    assert kinds(acts) == ["Arm"] and st_.phase == "input"
    st_, acts = run(st_, e.Digit("1"))
    assert acts[-1] == e.Queue("labour", 3, None) and st_.phase == "done"


def test_digit_during_prompt_barges_in() -> None:
    st_ = started()
    pb = st_.playback_id
    st_, acts = run(st_, e.Digit("9"))
    assert acts[0] == e.Silence(pb) and acts[-1] == e.Transfer("12315")


def test_timeouts_retry_with_the_invalid_prompt_then_default() -> None:
    st_ = started()
    actions: list[e.IvrAction] = []
    for _ in range(3):  # first try + 2 retries, each timing out
        st_, acts = run(st_, done(st_))
        st_, more = run(st_, e.Timeout(st_.token))
        actions += acts + more
    says = [a for a in actions if isinstance(a, e.Say)]
    assert [a.media[0] for a in says] == ["sound:hotline/invalid"] * 2
    assert actions[-1] == e.Queue(None, None, None)


def test_invalid_digits_count_as_failed_tries() -> None:
    st_ = started()
    st_, acts = run(st_, done(st_), e.Digit("7"))
    assert st_.tries == 1 and isinstance(acts[-1], e.Say)
    st_, acts = run(st_, e.Digit("*"), e.Digit("5"))
    assert acts[-1] == e.Queue(None, None, None)


def test_stale_timer_and_stale_playback_are_ignored() -> None:
    st_ = started()
    old = st_.token
    st_, _ = run(st_, done(st_))
    assert run(st_, e.Timeout(old)) == (st_, [])
    assert run(st_, e.PromptDone("pb-unknown")) == (st_, [])


def test_collect_ticket_number_then_status_found_and_not_found() -> None:
    st_ = started()
    st_, _ = run(st_, done(st_), e.Digit("2"))
    st_, _ = run(st_, done(st_))
    number = "2026112300001"
    st_, acts = run(st_, *(e.Digit(d) for d in number))
    assert acts[-1] == e.Lookup(number) and st_.vars["ticket"] == number
    found, acts = run(st_, e.LookupDone(True, "in_progress"))
    assert acts[0].media == (  # type: ignore[union-attr]
        "sound:hotline/ticket-status",
        f"digits:{number}",
        "sound:hotline/status-in_progress",
    )
    found, acts = run(found, done(found))
    found, acts = run(found, done(found))
    assert acts == [e.Hangup()]
    missing, acts = run(st_, e.LookupDone(False))
    assert acts[0].media == ("sound:hotline/ticket-not-found",)  # type: ignore[union-attr]
    missing, acts = run(missing, done(missing))
    assert acts[-1] == e.Queue(None, None, None)


def test_collect_too_few_digits_retries_then_fails_to_the_queue() -> None:
    st_ = started()
    st_, _ = run(st_, done(st_), e.Digit("2"))
    st_, _ = run(st_, done(st_), e.Digit("1"), e.Digit("#"))
    assert st_.tries == 1 and st_.digits == ""
    st_, _ = run(st_, done(st_), e.Digit("3"))
    st_, acts = run(st_, e.Timeout(st_.token))
    assert acts[-1] == e.Queue(None, None, None)


def test_time_condition_out_of_hours_hangs_up_politely() -> None:
    st_, acts = e.start(FLOW, "c1", SUN_23)
    assert st_.node == "closed" and kinds(acts) == ["Say"]
    st_, acts = run(st_, done(st_))
    assert acts == [e.Hangup()]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from("0123456789*#ABCD").map(e.Digit),
            st.just("done"),
            st.just("timeout"),
            st.booleans().map(lambda f: e.LookupDone(f, "closed")),
        ),
        max_size=60,
    )
)
def test_property_any_input_ends_in_queue_transfer_hangup_or_waits_for_the_caller(
    events: list[object],
) -> None:
    """A DTMF flood, silence or nonsense never loops or strands: the engine either waits on
    a prompt / input timer / lookup, or has handed the call on."""
    st_, _ = e.start(FLOW, "c1", MON_10)
    for ev in events:
        if ev == "done":
            ev = e.PromptDone(st_.playback_id)
        elif ev == "timeout":
            ev = e.Timeout(st_.token)
        before = st_.phase
        st_, acts = e.step(FLOW, st_, ev)  # type: ignore[arg-type]
        assert len(acts) <= 4
        if before != "done" and st_.phase == "done":  # the step that leaves the flow
            assert isinstance(acts[-1], e.Queue | e.Transfer | e.Hangup)
        if before == "done":
            assert acts == []
    assert st_.phase in {"prompt", "input", "lookup", "readout", "closing", "done"}


# -- the call machine around it: a caller hanging up at every node --------------------------


def test_caller_hanging_up_at_every_node_ends_the_call_and_stops_timers() -> None:
    call = s.Call("c1", "12345", flow=FLOW)
    call, cmds = s.step(call, s.CallerArrived(0.0, MON_10))
    assert [type(c).__name__ for c in cmds] == ["Answer", "Play", "StartTimer"]
    script = [s.PlaybackDone(call.ivr.playback_id), s.Dtmf("2")]  # type: ignore[union-attr]
    states = [call]
    for ev in script:
        call, _ = s.step(call, ev)
        states.append(call)
    call, _ = s.step(call, s.PlaybackDone(call.ivr.playback_id))  # type: ignore[union-attr]
    states.append(call)
    for d in "2026112300001":
        call, _ = s.step(call, s.Dtmf(d))
    states.append(call)
    for snapshot in states:
        ended, cmds = s.step(snapshot, s.CallerHungUp(9.0))
        assert ended.state is s.CallState.ENDED
        assert {c.name for c in cmds if isinstance(c, s.CancelTimer)} == {"greeting", e.TIMER}
        assert not any(isinstance(c, s.Enqueue | s.LeaveQueue) for c in cmds)


def test_lookup_result_and_guard_timer_in_the_call_machine() -> None:
    call = s.Call("c1", "12345", flow=FLOW)
    call, _ = s.step(call, s.CallerArrived(0.0, MON_10))
    call, cmds = s.step(call, s.TimerFired("greeting"))  # the flow stalled: queue the caller
    assert call.state is s.CallState.QUEUED and any(isinstance(c, s.Enqueue) for c in cmds)
    assert any(isinstance(c, s.StopPlayback) for c in cmds)


# -- flow files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nstart: a\nnodes:\n  a: {type: play, prompt: p, next: b}\n",
            "f.yaml:4: nodes.a.next: unknown node 'b'",
        ),
        (
            "name: x\nstart: a\nnodes:\n  a:\n    type: menu\n    prompt: p\n    options: {}\n"
            "    default: a\n    retries: 9\n",
            "f.yaml:9: nodes.a.retries:",
        ),
        ("name: x\nstart: a\nnodes:\n  a: {type: dance, next: a}\n", "f.yaml:4: nodes.a:"),
        (
            "name: x\nstart: a\nnodes:\n  a: {type: set, next: b}\n  b: {type: set, next: a}\n",
            "loops without a prompt",
        ),
        ("name: x\nstart: zz\nnodes:\n  a: {type: enqueue}\n", "f.yaml:2: start: unknown node"),
        (
            "name: x\nstart: a\nnodes:\n  a: {type: enqueue}\n  a: {type: enqueue}\n",
            "f.yaml:5: not valid YAML: duplicate key 'a'",
        ),
        ("name: [unclosed\n", "f.yaml:2: not valid YAML"),
        ("- just a list\n", "f.yaml:1: a flow is a mapping"),
        (
            'name: x\nstart: a\nnodes:\n  a: {type: play, prompt: "$(rm -rf)", next: a}\n',
            "f.yaml:4: nodes.a.prompt",
        ),
    ],
)
def test_broken_flow_files_are_reported_with_file_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(FlowError) as err:
        parse_flow(text, "f.yaml")
    assert any(expected in msg for msg in err.value.errors), err.value.errors


def test_shipped_flows_load_and_name_only_prompts_that_exist() -> None:
    flows = load_flows(BUILT_IN)
    assert flows.for_line("12345").name == "12345"
    assert flows.for_line("99999").name == "default"
    example = load_flows(ROOT / "deploy" / "ivr-flows.example")
    assert example.for_line("12345").name == "12345-menu"
    sounds = ROOT / "asterisk-config" / "sounds" / "zh" / "hotline"
    names = set()
    for flow in [*flows.by_line.values(), flows.default, *example.by_line.values()]:
        names |= {p for p in flow.prompts() if ":" not in p}
    names |= {"hotline/ticket-status", *(f"hotline/status-{x}" for x in STATUSES)}
    missing = sorted(n for n in names if not (sounds / f"{n.split('/', 1)[1]}.wav").exists())
    assert missing == []


STATUSES = [
    "accepted",
    "answered",
    "dispatched",
    "returned",
    "escalated",
    "in_progress",
    "extension_pending",
    "replied",
    "follow_up",
    "unsatisfied",
    "closed",
    "merged",
]


def test_every_prompt_named_in_the_code_has_a_sound_file() -> None:
    import re

    sounds = ROOT / "asterisk-config" / "sounds" / "zh" / "hotline"
    named: set[str] = set()
    for path in (ROOT / "hotline").rglob("*.py"):
        named |= set(re.findall(r"sound:hotline/([\w-]+)", path.read_text(encoding="utf-8")))
    named.discard("status-")  # built from the ticket's status, checked above
    assert {
        "queue-position",
        "callback-offer",
        "describe-invite",
        "rate-call",
        "survey-question",
    } <= named
    assert sorted(n for n in named if not (sounds / f"{n}.wav").exists()) == []
