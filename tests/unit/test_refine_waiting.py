"""How a waiting call changes once its recorded description's draft is known (no I/O)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hotline.asr
from hotline.config import Settings
from hotline.queue.models import PRIORITY_URGENT, Task
from hotline.queue.policy import Description, refine_waiting

TABLE = {"water": "water", "hrss": "labour"}
GENERAL = Task("c1", "general", ("general",), priority=0, enqueued_at=100.0, line="12345")
SPECIFIC = Task("c1", "market", ("market", "general"), priority=0, enqueued_at=100.0)


@pytest.mark.parametrize(
    ("case", "task", "state", "description", "skills", "priority", "reasons"),
    [
        ("urgent water", GENERAL, "waiting", Description(True, "water"),
         ("water", "general"), PRIORITY_URGENT, ("urgent", "department")),
        ("normal water", GENERAL, "waiting", Description(False, "water"),
         ("water", "general"), 0, ("department",)),
        ("urgent, no department", GENERAL, "waiting", Description(True, ""),
         ("general",), PRIORITY_URGENT, ("urgent",)),
        ("urgent, department not mapped", GENERAL, "waiting", Description(True, "police"),
         ("general",), PRIORITY_URGENT, ("urgent",)),
        ("normal, department not mapped", GENERAL, "waiting", Description(False, "police"),
         None, None, None),
        ("normal, nothing", GENERAL, "waiting", Description(), None, None, None),
        ("skill already specific, urgent", SPECIFIC, "waiting", Description(True, "water"),
         ("market", "general"), PRIORITY_URGENT, ("urgent",)),
        ("skill already specific, normal", SPECIFIC, "waiting", Description(False, "water"),
         None, None, None),
        ("line priority kept and raised", replace(GENERAL, priority=7), "waiting",
         Description(True, "hrss"), ("labour", "general"), 7 + PRIORITY_URGENT,
         ("urgent", "department")),
        ("raised once only", replace(GENERAL, priority=PRIORITY_URGENT, urgent=True), "waiting",
         Description(True, ""), None, None, None),
        ("mapped to the general skill itself", GENERAL, "waiting", Description(False, "civil"),
         None, None, None),
        ("being offered", GENERAL, "offered", Description(True, "water"), None, None, None),
        ("gone (answered or hung up)", None, None, Description(True, "water"), None, None, None),
    ],
)  # fmt: skip
def test_given_a_waiting_call_when_its_description_is_known_then_it_is_refined_as_in_the_table(
    case: str,
    task: Task | None,
    state: str | None,
    description: Description,
    skills: tuple[str, ...] | None,
    priority: int | None,
    reasons: tuple[str, ...] | None,
) -> None:
    out = refine_waiting(task, state, description, {**TABLE, "civil": "general"})
    if skills is None:
        assert out is None, case
        return
    assert out is not None, case
    assert (out.task.skills, out.task.priority, out.reasons) == (skills, priority, reasons), case
    assert out.task.urgent == (description.urgent or (task is not None and task.urgent))


@given(
    priority=st.integers(0, 100),
    enqueued_at=st.floats(0, 2e9),
    urgent=st.booleans(),
    department=st.sampled_from(["water", "hrss", "police", ""]),
)
def test_given_any_refinement_then_the_place_and_the_call_stay_and_it_is_idempotent(
    priority: int, enqueued_at: float, urgent: bool, department: str
) -> None:
    task = replace(GENERAL, priority=priority, enqueued_at=enqueued_at)
    description = Description(urgent, department)
    out = refine_waiting(task, "waiting", description, TABLE)
    if out is None:
        return
    new = out.task
    assert (new.call_id, new.queue, new.enqueued_at, new.line) == (
        task.call_id,
        task.queue,
        task.enqueued_at,
        task.line,
    )
    assert new.priority >= task.priority and set(task.skills) <= set(new.skills)
    assert refine_waiting(new, "waiting", description, TABLE) is None


def test_given_a_draft_as_json_then_the_description_reads_urgency_and_department() -> None:
    draft = {"urgent": True, "department": "water", "urgent_reasons": ["停水"], "kind": "求助"}
    assert Description.from_draft(draft) == Description(True, "water", ("停水",))
    assert Description.from_draft({"department": None}) == Description()


def test_given_the_default_settings_then_every_department_skill_is_a_line_skill() -> None:
    settings = Settings()
    line_skills = {line.skill for line in settings.lines}
    assert settings.department_skills and set(settings.department_skills.values()) <= line_skills


def test_given_the_default_settings_then_every_mapped_department_is_in_the_taxonomy() -> None:
    path = Path(hotline.asr.__file__).parent / "data" / "taxonomy.toml"
    departments = {c["department"] for c in tomllib.loads(path.read_text())["category"]}
    assert set(Settings().department_skills) <= departments
