"""The web foundation's small pure parts: catalogues that match, vendored files that are what
the record says, the event filter, phone masking, and redirects that stay on the site."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from hotline.agent_desk import i18n
from hotline.agent_desk.hub import EventFilter, stream_id
from hotline.agent_desk.pages import _safe_next
from hotline.agent_desk.panels import mask_phone

DESK = Path(__file__).resolve().parents[2] / "hotline" / "agent_desk"


def test_given_both_catalogues_then_they_have_the_same_keys_and_placeholders() -> None:
    zh, en = i18n.catalogue("zh-CN"), i18n.catalogue("en")
    assert zh and zh.keys() == en.keys()
    for key in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[key])) == set(re.findall(r"\{(\w+)\}", en[key]))


def test_given_templates_and_scripts_then_every_message_they_name_exists() -> None:
    known = i18n.catalogue("zh-CN").keys()
    named: set[str] = set()
    for tpl in (DESK / "templates").glob("*.html"):
        named |= set(re.findall(r"""\bt\(["'](\w+)["'][,)]""", tpl.read_text()))
    from hotline.agent_desk.desk import JS_MESSAGES, KINDS, NOT_READY_REASONS, SHORTCUTS
    from hotline.roles import Role

    named |= set(JS_MESSAGES) | {m for _, m in SHORTCUTS}
    named |= {f"kind_{k}" for k in KINDS} | {f"reason_{r}" for r in NOT_READY_REASONS}
    named |= {f"role_{r.value}" for r in Role}
    assert named and named <= known, named - known


def test_given_a_missing_key_then_the_key_shows_and_chinese_is_the_fallback() -> None:
    assert i18n.text("en", "no-such-key") == "no-such-key"
    assert i18n.text("fr", "sign_in") == "登录"
    assert i18n.pick(None) == "zh-CN" and i18n.pick("en") == "en" and i18n.pick("xx") == "zh-CN"


def test_given_the_vendored_files_then_each_matches_its_recorded_digest_and_has_its_licence() -> (
    None
):
    vendor = DESK / "static" / "vendor"
    record = json.loads((vendor / "vendor.json").read_text())
    listed = set()
    for pkg in record["packages"]:
        assert pkg["version"] and pkg["license"] and (vendor / pkg["license_file"]).is_file()
        for name, digest in pkg["files"].items():
            listed.add(name)
            assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    on_disk = {
        str(p.relative_to(vendor))
        for p in vendor.rglob("*")
        if p.is_file() and p.name not in ("vendor.json", "LICENSE")
    }
    assert on_disk == listed, "every vendored file is recorded, and only those"


def test_given_the_pages_then_no_template_or_script_loads_anything_from_another_site() -> None:
    for f in [*(DESK / "templates").glob("*.html"), *(DESK / "static").glob("*.js")]:
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", f.read_text()), f.name
        assert "<script>" not in f.read_text(), f"{f.name}: no inline script"


def test_given_a_seat_filter_then_its_calls_follow_the_offer() -> None:
    flt = EventFilter(operator="1001")
    assert not flt.accepts("transcript.final", {"call_id": "c1", "operator_id": "1002"})
    assert flt.accepts("desk.offer", {"call_id": "c1", "operator": "1001"})
    assert flt.accepts("call.abandoned", {"call_id": "c1"}), "the offered call is followed"
    assert not flt.accepts("call.abandoned", {"call_id": "c2"})
    # 1001 did not answer; the call goes to 1002, whose conversation 1001 must not read
    assert not flt.accepts("desk.offer", {"call_id": "c1", "operator": "1002"})
    assert not flt.accepts("transcript.final", {"call_id": "c1", "operator_id": "1002"})
    assert not flt.accepts("call.left", {"call_id": "c1"}), "no longer followed"
    typed = EventFilter(types=("transcript.",), operator="1001")
    assert not typed.accepts("agent.state", {"operator": "1001"})
    assert EventFilter().takes_all


def test_stream_ids_compare_as_numbers_not_text() -> None:
    assert stream_id("1700000000000-10") > stream_id("1700000000000-9")
    assert stream_id("999-0") < stream_id("1000-0")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13812345678", "138****5678"),
        ("055162345678", "055*****5678"),
        ("12345", "***45"),
        ("110", "**0"),
        ("", ""),
    ],
)
def test_phone_numbers_are_masked_to_their_last_four(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/desk", "/desk"),
        ("/desk?x=1", "/desk?x=1"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("desk", "/"),
        ("/a\nb", "/"),
    ],
)
def test_a_next_address_never_leaves_the_site(target: str, safe: str) -> None:
    assert _safe_next(target) == safe
