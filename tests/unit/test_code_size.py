"""Sizes a reader can hold: no module over 600 lines (migrations aside), no function over 80
lines except the declarations listed here (tables of metrics and routes, read, not run)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for folder in ("hotline", "bench")
    for p in (ROOT / folder).rglob("*.py")
    if "migrations" not in p.parts
]
DECLARATIONS = {
    ("hotline/metrics/__init__.py", "__init__"),  # every metric the server exports
    ("hotline/tickets/http.py", "api"),  # the ticket API's routes and their OpenAPI entries
}


def test_no_module_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in SOURCES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_no_function_over_80_lines_but_declarations() -> None:
    long = {}
    for p in SOURCES:
        rel = str(p.relative_to(ROOT))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 80 and (rel, node.name) not in DECLARATIONS:
                    long[f"{rel}:{node.name}"] = n
    assert long == {}
