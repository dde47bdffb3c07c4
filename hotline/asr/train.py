"""Training the draft's kind and category models: softmax regression with an L2 penalty,
full-batch Adam over sparse binary features (numpy only). Pure: documents in, model out.

Rare features (seen in fewer than ``min_count`` documents) are left out, and weights too
small to matter are pruned, so a model trained on a year of tickets stays a few MB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .classify import LinearModel
from .draft import DraftRules, Utterance, read_call


@dataclass(frozen=True)
class Fit:
    l2: float = 1e-3  # per document, scaled by the number of documents
    steps: int = 300
    rate: float = 0.1
    min_count: int = 1
    prune: float = 1e-3


def _index(docs: Sequence[set[str]], min_count: int) -> dict[str, int]:
    seen = Counter(f for d in docs for f in d)
    kept = sorted(f for f, n in seen.items() if n >= min_count)
    return {f: i for i, f in enumerate(kept)}


def _sparse(docs: Sequence[set[str]], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = [], []
    for r, d in enumerate(docs):
        for f in d:
            if (c := index.get(f)) is not None:
                rows.append(r)
                cols.append(c)
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


class _Design:
    """Binary X as (row, column) pairs; X @ W and X.T @ G by sorted segment sums."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, n: int, f: int) -> None:
        self.n, self.f = n, f
        by_row = np.lexsort((cols, rows))
        self.r_cols, self.r_rows = cols[by_row], rows[by_row]
        by_col = np.lexsort((rows, cols))
        self.c_rows, self.c_cols = rows[by_col], cols[by_col]

        self.r_starts = self._starts(self.r_rows)
        self.c_starts = self._starts(self.c_cols)

    @staticmethod
    def _starts(keys: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys

    @staticmethod
    def _segment_sum(
        m: np.ndarray, take: np.ndarray, keys: np.ndarray, starts: np.ndarray, size: int
    ) -> np.ndarray:
        """Rows ``take`` of ``m`` summed by ``keys``, one label column at a time (memory in
        proportion to the non-zeros, not to them times the labels)."""
        out = np.zeros((size, m.shape[1]))
        if len(keys):
            for k in range(m.shape[1]):
                out[keys[starts], k] = np.add.reduceat(m[take, k], starts)
        return out

    def times(self, w: np.ndarray) -> np.ndarray:
        return self._segment_sum(w, self.r_cols, self.r_rows, self.r_starts, self.n)

    def t_times(self, g: np.ndarray) -> np.ndarray:
        return self._segment_sum(g, self.c_rows, self.c_cols, self.c_starts, self.f)


def fit(docs: Sequence[set[str]], labels: Sequence[str], cfg: Fit = Fit()) -> LinearModel:
    names = tuple(sorted(set(labels)))
    index = _index(docs, cfg.min_count)
    x = _Design(*_sparse(docs, index), len(docs), len(index))
    y = np.zeros((len(docs), len(names)))
    y[np.arange(len(docs)), [names.index(lb) for lb in labels]] = 1.0
    w = np.zeros((len(index), len(names)))
    b = np.log(y.mean(axis=0) + 1e-9)
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b, v_b = np.zeros_like(b), np.zeros_like(b)
    n = len(docs)
    for step in range(1, cfg.steps + 1):
        z = x.times(w) + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - y) / n
        grads = ((x.t_times(g) + cfg.l2 * w, w, m_w, v_w), (g.sum(axis=0), b, m_b, v_b))
        for grad, param, m, v in grads:
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= cfg.rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    features = {f: i for f, i in index.items()}
    weights = {
        f: tuple((int(k), float(w[i, k])) for k in np.flatnonzero(np.abs(w[i]) >= cfg.prune))
        for f, i in features.items()
    }
    kept = {f: ws for f, ws in weights.items() if ws}
    return LinearModel(names, tuple(float(v) for v in b), kept)


@dataclass(frozen=True)
class Example:
    """One past call or ticket: what was said, and the kind and category it was given.
    ``kind`` None: not known (the model for kinds is then not trained); ``category`` "" is
    none of the taxonomy."""

    utterances: list[Utterance]
    kind: str | None
    category: str


def train_models(
    examples: Sequence[Example], rules: DraftRules, cfg: Fit = Fit()
) -> tuple[LinearModel | None, LinearModel]:
    """The kind model (None unless every example has a kind) and the category model."""
    kind_docs, category_docs = [], []
    for e in examples:  # features only: a year of tickets' readings would not fit in memory
        r = read_call(e.utterances, rules)
        kind_docs.append(r.kind_features)
        category_docs.append(r.category_features)
    kind_model = None
    if examples and all(e.kind for e in examples):
        kind_model = fit(kind_docs, [str(e.kind) for e in examples], cfg)
    category_model = fit(category_docs, [e.category for e in examples], cfg)
    return kind_model, category_model
