"""The import structure: no cycle between modules (imports inside functions count; those
only for the type checker do not), no cycle between packages, and the pure cores import no
I/O library. A new cycle or an adapter import in a pure module fails here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "hotline"

# The pure cores: time and data in, decisions out. They may read their own data files at
# load (flows, rules) but talk to no network, database or process.
PURE = [
    "hotline.errors",
    "hotline.roles",
    "hotline.telephony.model",
    "hotline.telephony.session",
    "hotline.telephony.waiting",
    "hotline.telephony.controls",
    "hotline.telephony.records",
    "hotline.queue.models",
    "hotline.queue.policy",
    "hotline.queue.sla",
    "hotline.queue.wait",
    "hotline.ivr.engine",
    "hotline.ivr.flow",
    "hotline.tickets.models",
    "hotline.tickets.workflow",
    "hotline.tickets.calendar",
    "hotline.tickets.deadlines",
    "hotline.asr.draft",
    "hotline.asr.sounds",
    "hotline.asr.numerals",
    "hotline.asr.hazards",
    "hotline.asr.places",
    "hotline.asr.classify",
    "hotline.asr.train",
    "hotline.asr.scoring",
    "hotline.asr.transcript",
    "hotline.asr.vad",
    "hotline.asr.rtp",
]
IO_LIBRARIES = {
    "aiohttp",
    "asyncio",
    "redis",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "panoramisk",
    "vosk",
    "socket",
    "subprocess",
    "prometheus_client",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in ROOT.rglob("*.py")
        if "migrations" not in p.relative_to(ROOT).parts
    }


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``name`` imports at run time, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    out.add(full if full in known else target)
            elif isinstance(node, ast.Import):
                out.update(alias.name for alias in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {
        name: {m for m in imports(name, path, known) if m in known and m != name}
        for name, path in mods.items()
    }


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return found


def package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(graph()) == []


def test_no_package_imports_itself_through_others() -> None:
    g: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph().items():
        for b in targets:
            if package(a) != package(b):
                g[package(a)].add(package(b))
    assert cycles(g) == []


def test_pure_modules_import_no_io_library() -> None:
    mods = modules()
    known = set(mods)
    offenders = {
        name: sorted(m for m in imports(name, mods[name], known) if m.split(".")[0] in IO_LIBRARIES)
        for name in PURE
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
