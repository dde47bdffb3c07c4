"""The gazetteer and the location: the city's divisions from the national codes, places a
deployment imports, matching by sound and with Chinese numerals, the most specific place,
the district only when named; and the commands that write a deployment's draft data."""

from __future__ import annotations

import argparse
import asyncio
import csv
from pathlib import Path

import pytest

from hotline.asr import draft_cli
from hotline.asr.draft import DraftRules, Utterance, make_draft
from hotline.asr.numerals import normalise

RULES = DraftRules.load()


def where(text: str, rules: DraftRules = RULES) -> tuple[str | None, str | None]:
    loc = make_draft([Utterance("caller", text)], rules).location
    return loc.district, loc.place()


def test_given_the_shipped_gazetteer_then_it_holds_hefeis_divisions_from_the_codes() -> None:
    names = RULES.gazetteer.names
    assert {"蜀山区", "庐江县", "巢湖市", "高新区"} <= set(names)
    assert names["三河镇"].kind == "street" and names["三河镇"].district == "肥西县"
    assert names["三里庵街道"].district == "蜀山区"
    assert "东华门街道" not in names  # Beijing's, not this city's
    assert len(RULES.gazetteer.places("street")) > 100


@pytest.mark.parametrize(
    ("text", "district", "place"),
    [
        ("蜀山区三里庵街道这边路灯不亮", "蜀山区", "三里庵街道"),
        ("我住在琥珀山庄 楼上装修太吵", None, "琥珀山庄"),  # no district guessed
        ("马鞍山路上有个坑", None, "马鞍山路"),
        ("长江西路一百二十八号门口", None, "长江西路128号"),
        ("包河区 金色港湾小区 三栋", "包河区", "金色港湾小区"),  # a compound nobody listed
        ("我们小区停水了", None, None),  # 我们小区 names nothing
        ("肥西路那边有人摆摊", None, "肥西路"),  # a road, not 肥西县
        ("肥西 三河镇 这边", "肥西县", "三河镇"),
        ("宾湖世纪城 物业不管", None, "滨湖世纪城"),  # 滨湖 misheard
        ("住 在 常江 西路 一百 号", None, "长江西路100号"),
        ("往下掉石头了", None, None),  # not 石头镇
    ],
)
def test_given_a_place_said_when_located_then_the_most_specific_one(
    text: str, district: str | None, place: str | None
) -> None:
    assert where(text) == (district, place)


def test_chinese_numerals_read_as_digits_where_they_are_numbers() -> None:
    assert normalise("一三八零零一三八零零零") == "13800138000"
    assert normalise("五楼不对是六楼") == "5楼不对是6楼"
    assert normalise("万一着火 一下 一直 三四个人 十几个") == "万一着火 一下 一直 三四个人 十几个"


def run(cmd: str, **kw: object) -> int:
    handlers = {"draft": draft_cli.draft_cmd, "gazetteer": draft_cli.gazetteer_cmd}
    return asyncio.run(handlers[cmd](argparse.Namespace(**kw)))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_given_a_citys_places_when_imported_then_drafts_find_them(tmp_path: Path) -> None:
    places = write_csv(
        tmp_path / "in.csv",
        [
            {"kind": "road", "name": "王府井大街", "district": "东城区", "aliases": ""},
            {"kind": "compound", "name": "安贞里小区", "district": "朝阳区", "aliases": "安贞里"},
        ],
    )
    out = tmp_path / "draft"
    assert run("gazetteer", csv=places, merge=False, city="1101", out=out) == 0
    rules = DraftRules.load(out)
    assert where("东城区王府井大街88号", rules) == ("东城区", "王府井大街88号")
    assert where("我住安贞里 暖气不热", rules) == (None, "安贞里小区")
    assert "蜀山区" not in rules.gazetteer.names  # another city: Hefei's names are gone
    assert "东华门街道" in rules.gazetteer.names


def test_given_bad_place_rows_when_imported_then_refused(tmp_path: Path) -> None:
    places = write_csv(tmp_path / "in.csv", [{"kind": "river", "name": "淮河"}])
    assert run("gazetteer", csv=places, merge=False, city=None, out=tmp_path / "d") == 2


def test_given_past_tickets_when_trained_then_drafts_use_the_new_models(tmp_path: Path) -> None:
    rows = [
        {
            "content": f"{who}家门口的共享单车堆成山了 {n}",
            "category": "交通运输",
            "kind": "complaint",
        }
        for n, who in enumerate(["我", "你", "他", "邻居", "老王", "小李"] * 4)
    ] + [
        {"content": f"{who}想问低保怎么申请 {n}", "category": "民政", "kind": "consultation"}
        for n, who in enumerate(["我", "我妈", "我爸", "邻居", "老王", "小李"] * 4)
    ]
    tickets = write_csv(tmp_path / "past.csv", rows)
    out = tmp_path / "draft"
    args = {"text_column": "content", "category_column": "category", "kind_column": "kind"}
    assert run("draft", csv=tickets, out=out, **args) == 0
    assert (out / "category_model.json.gz").exists() and (out / "kind_model.json.gz").exists()
    rules = DraftRules.load(out)
    assert rules.category_model is not None and set(rules.category_model.labels) == {
        "交通运输",
        "民政",
    }
    d = make_draft([Utterance("caller", "楼下共享单车太多了")], rules)
    assert d.category == "交通运输"


def test_given_categories_outside_the_taxonomy_when_trained_then_refused(tmp_path: Path) -> None:
    tickets = write_csv(tmp_path / "p.csv", [{"content": "路灯坏了", "category": "城市管理"}])
    args = {"text_column": "content", "category_column": "category", "kind_column": "kind"}
    assert run("draft", csv=tickets, out=tmp_path / "d", **args) == 2
