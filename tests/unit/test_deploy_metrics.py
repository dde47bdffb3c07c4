"""Every metric the Grafana dashboard and the Prometheus rules use is one the server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hotline.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\bhotline_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def exported() -> set[str]:
    m = Metrics()
    return {fam.name for fam in m.registry.collect()}


def base(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


def test_given_the_dashboard_and_alert_rules_then_every_metric_they_name_exists() -> None:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "hotline.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs.append((DEPLOY / "alerts.yml").read_text())
    used = {base(n) for e in exprs for n in NAME.findall(e)}
    assert used, "the dashboard names metrics"
    assert used - exported() == set()
