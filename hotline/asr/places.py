"""Where a call is about: the gazetteer and the location it finds in a transcript. Pure.

The gazetteer holds the hotline city's districts and counties and its towns and streets (from
the national division codes, ``data/divisions.csv.gz``), and the roads, compounds and
landmarks a deployment imports from its own list (``hotline gazetteer import``). Names match
by characters and by sound. A road with a house number or a compound the gazetteer does not
know is read from the way people say them (``XX路12号``, ``XX花园``). The location is the most
specific place the caller names; its district only when the caller names one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .sounds import Hit, Lexicon, Text, longest

KINDS = ("district", "street", "road", "compound", "landmark")
_CJK = "\u4e00-\u9fff"
# Said after a short name when it is part of a longer one (肥西路 is a road, not 肥西县).
_LONGER_NAME = set("路街道巷村区县镇乡小区花园苑城湖山公园大站桥号")
_STOP = re.compile(
    "我们|你们|他们|咱们|俺们|阿拉|我家|家在|我住|住在|住的|这个|那个|整个|隔壁|对面|旁边|附近"
    "|楼下|一个|就是|还是|不是|是在|一下|你好|说|是|在|的|了|到|去|从|老|新|本|全|这|那|个|我|有|和|跟"
    "|把|被|给|让|往|向|对|里|来|要|周|多|哪"
)
_COMPOUND = re.compile(
    rf"([{_CJK}]{{1,8}}?)(小区|花园|家园|新村|公寓|山庄|嘉园|华府|公馆|大厦|广场|花苑|雅苑|名苑|苑)"
)
_ROAD_NO = re.compile(rf"([{_CJK}]{{1,8}}?)(大道|大街|路|街|巷)(\d+)号")


@dataclass(frozen=True)
class Place:
    name: str  # as the gazetteer writes it
    kind: str  # district | street | road | compound | landmark
    district: str | None = None  # the district it lies in, if the gazetteer knows


@dataclass
class Gazetteer:
    """Place names of one city. ``names`` maps every name a caller may say (official, short,
    alias) to its place."""

    names: dict[str, Place] = field(default_factory=dict)
    lexicon: Lexicon[Place] = field(init=False)

    def __post_init__(self) -> None:
        self.lexicon = Lexicon(sorted(self.names.items()))

    def words(self) -> set[str]:
        return set(self.names)

    def places(self, kind: str) -> list[Place]:
        return sorted({p for p in self.names.values() if p.kind == kind}, key=lambda p: p.name)


@dataclass(frozen=True)
class Location:
    district: str | None = None
    street: str | None = None
    road: str | None = None  # road and number, e.g. 长江西路100号
    compound: str | None = None
    landmark: str | None = None

    def text(self) -> str:
        parts = [self.district, self.street, self.road, self.compound or self.landmark]
        return "".join(p for p in parts if p)

    def place(self) -> str | None:
        """The most specific place named: a compound or landmark, a road, then a street."""
        return self.compound or self.landmark or self.road or self.street


def _trim(name: str) -> str:
    """The name left of the last word that cannot be part of one (我们小区 names nothing)."""
    cut = 0
    for m in _STOP.finditer(name):
        cut = m.end()
    return name[cut:]


def _said_places(text: Text) -> list[Hit[Place]]:
    """Roads with numbers and compounds as people say them, gazetteer or not."""
    hits: list[Hit[Place]] = []
    for m in _ROAD_NO.finditer(text.chars):
        stem = _trim(m.group(1))
        if len(stem) >= 2 or (stem and m.group(2) != "路"):
            road = f"{stem}{m.group(2)}"
            start = m.end(1) - len(stem)
            hits.append(Hit(start, m.end(), road, Place(f"{road}{m.group(3)}号", "road"), False))
    for m in _COMPOUND.finditer(text.chars):
        stem = _trim(m.group(1))
        if len(stem) >= 2:
            start = m.end(1) - len(stem)
            name = stem + m.group(2)
            hits.append(Hit(start, m.end(), name, Place(name, "compound"), False))
    return hits


_AROUND = re.compile("那边|这边|这块|那块|附近|一带|街道|社区|片区")


def _plausible(h: Hit[Place], text: Text) -> bool:
    if h.by_sound and len(h.term) < 3:
        return False  # two syllables alike are too common to name a place
    if h.term == h.value.name or len(h.term) >= 4:
        return True
    if len(h.term) == 2 and h.value.kind == "street":
        return _AROUND.match(text.chars, h.end) is not None  # 南七那边, not 往下掉石头
    nxt = text.chars[h.end : h.end + 1]
    return nxt not in _LONGER_NAME  # a short name followed by 路, 湖 … is a longer name


_NUMBER = re.compile(r"(\d+)号")


def _numbered(h: Hit[Place], text: Text) -> Hit[Place]:
    """A known road followed by a house number: the road as the gazetteer writes it, with it."""
    m = _NUMBER.match(text.chars, h.end)
    if h.value.kind != "road" or m is None:
        return h
    place = Place(f"{h.value.name}{m.group(1)}号", "road", h.value.district)
    return Hit(h.start, m.end(), h.term, place, h.by_sound)


def _overlap(a: Hit[Place], b: Hit[Place]) -> bool:
    return a.start < b.end and b.start < a.end


def _after_known(s: Hit[Place], known: list[Hit[Place]]) -> Hit[Place] | None:
    """A compound as said, begun after any known name inside it (瑶海区明小区 → 明小区)."""
    start = max([k.end for k in known if s.start <= k.start and k.end < s.end], default=s.start)
    if start == s.start:
        return s
    name = s.value.name[start - s.start :]
    if len(name) < 3:
        return None
    return Hit(start, s.end, name, Place(name, s.value.kind), False)


def locate(text: Text, gazetteer: Gazetteer) -> Location:
    known = [_numbered(h, text) for h in gazetteer.lexicon.find(text) if _plausible(h, text)]
    spots = [k for k in known if k.value.kind in ("road", "compound", "landmark")]
    said = [
        t
        for s in _said_places(text)
        if not any(_overlap(s, k) for k in spots) and (t := _after_known(s, known)) is not None
    ]
    found: dict[str, str] = {}
    for hits in (longest(known), longest(known + said)):  # the gazetteer's names first
        for h in hits:
            kind, name = h.value.kind, h.value.name
            if kind == "road" and not found.get("road", "").endswith("号") and name.endswith("号"):
                found["road"] = name  # a numbered road is more specific than one said before
            found.setdefault(kind, name)
    return Location(
        found.get("district"),
        found.get("street"),
        found.get("road"),
        found.get("compound"),
        found.get("landmark"),
    )


# -- building one ------------------------------------------------------------------------------

_TOWN = re.compile(r"^(.{2,}?)(街道|镇|乡|社区)(服务中心)?$")


def _short(name: str, suffix: str) -> str | None:
    """三里庵街道 → 三里庵; none for 明光路街道 (明光路 is the road) or one character."""
    stem = name[: -len(suffix)]
    if len(stem) < 2 or stem[-1] in "路街道巷" or suffix == "社区":
        return None
    return stem


def _list(config: dict[str, object], key: str) -> list[object]:
    value = config.get(key, [])
    return list(value) if isinstance(value, list) else []


def build_gazetteer(
    divisions: list[dict[str, str]], config: dict[str, object], places: list[dict[str, str]]
) -> Gazetteer:
    """The gazetteer of the city ``config["city"]`` names (a division code: 3401 is Hefei).

    ``divisions`` are rows of the national codes (code, name, level, parent); ``config`` may
    rename districts (``district_names``), add names callers use (``aliases``: name → the
    official or renamed one) and districts that are no division (``extra_districts``);
    ``places`` are a deployment's rows (kind, name, district, aliases separated by ``|``).
    """
    city = str(config.get("city", ""))
    renamed = dict(config.get("district_names", {}) or {})  # type: ignore[call-overload]
    names: dict[str, Place] = {}
    children: dict[str, list[str]] = {}
    for r in divisions:
        children.setdefault(r["parent"], []).append(r["name"])
    counties = {r["code"]: r["name"] for r in divisions if r["parent"] == city}
    for code, official in counties.items():
        place = Place(renamed.get(official, official), "district")
        names[official] = names[place.name] = place
        stem = place.name[:-1]
        if place.name[-1] in "区县市" and len(stem) >= 2:
            names.setdefault(stem, place)
        for town_name in children.get(code, []):
            if m := _TOWN.match(town_name):
                town = Place(m.group(1) + m.group(2), "street", place.name)
                names.setdefault(town.name, town)
                if (short := _short(town.name, m.group(2))) is not None:
                    names.setdefault(short, town)
    for name in [*_list(config, "extra_districts"), *_list(config, "districts")]:
        names[str(name)] = Place(str(name), "district")
    for kind in ("street", "road", "compound"):  # the first format: lists per district
        table = config.get(kind + "s", {})
        for district, items in table.items() if isinstance(table, dict) else ():
            for n in items:
                names[str(n)] = Place(str(n), kind, str(district))
    for row in places:
        kind = row.get("kind", "").strip()
        if kind not in ("road", "compound", "landmark", "street", "district"):
            continue
        place = Place(row["name"].strip(), kind, (row.get("district") or "").strip() or None)
        names[place.name] = place
        for alias in (row.get("aliases") or "").split("|"):
            if alias.strip():
                names[alias.strip()] = place
    for alias, target in (config.get("aliases", {}) or {}).items():  # type: ignore[attr-defined]
        if str(target) in names:
            names[str(alias)] = names[str(target)]
    return Gazetteer(names)
