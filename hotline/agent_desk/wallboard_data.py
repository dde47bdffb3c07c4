"""The wallboard's arithmetic (pure: timestamps and rows in, what the big screen shows out).

- The day is the office's local day (``Settings.timezone``); SQL keeps naive UTC, so every
  window here is an aware UTC pair ``[start, end)``.
- The trend counts calls per half hour by when they started; the comparison is the mean of
  the last four same weekdays, over the days that have any call at all (a day the system was
  not running would otherwise pull the mean towards zero).
- A surge is the last hour against the same hour a week before, flagged when clearly above:
  at least :data:`SURGE_MIN_CALLS` calls and :data:`SURGE_RATIO` times the week before (with
  nothing the week before, the count alone decides).
- Hot words are dictionary nouns, verbs, adjectives and set phrases of two or more Chinese
  characters, stop words left out, counted once per ticket or call (one long complaint does
  not make a hot word). Only dictionary words and never one tagged as a person's name, so a
  citizen's name or number does not reach the screen.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import jieba
import jieba.posseg

jieba.setLogLevel(logging.WARNING)

BUCKET_S = 1800
WEEKS = 4
SURGE_RATIO = 1.5
SURGE_MIN_CALLS = 10
SURGE_MIN_TICKETS = 5
TOP_N = 5
HOT_WORDS = 24
UNCATEGORISED = ""
KEEP_TAGS = frozenset("nvalij")  # first letter of jieba's part-of-speech tag
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
STOP_WORDS = frozenset(
    (
        # function words and fillers
        "我们 你们 他们 她们 它们 自己 这个 那个 这些 那些 这里 那里 这样 那样 这边 那边 "
        "什么 怎么 怎样 如何 为什么 哪里 哪个 多少 是否 是不是 有没有 能不能 可不可以 "
        "可以 可能 应该 需要 希望 要求 想要 就是 还是 或者 而且 并且 但是 可是 不过 因为 "
        "所以 如果 虽然 然后 之后 之前 以后 以前 已经 一直 一下 一些 一个 一次 一点 "
        "现在 目前 当时 今天 昨天 明天 今年 去年 每天 时候 时间 最近 经常 总是 还有 没有 "
        "不是 不能 不会 不要 不了 只是 只有 也是 都是 非常 比较 特别 十分 确实 其实 "
        "知道 觉得 认为 表示 告诉 说明 反映 反应 来电 致电 电话 市民 群众 本人 您好 你好 "
        "请问 谢谢 麻烦 帮忙 情况 问题 事情 方面 相关 有关 处理 解决 联系 回复 办理 "
        "咨询 投诉 举报 建议 求助 工单 热线 进行 存在 出现 发生 导致 造成 目的 结果"
    ).split()
)


# -- the day and its windows -----------------------------------------------------------------


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def day_window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as UTC: [its midnight, the next midnight) (23 or 25 hours across DST)."""
    start = datetime.combine(day, time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return start, end


def same_weekdays(day: date, weeks: int = WEEKS) -> list[date]:
    return [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]


def slot_labels(bucket_s: int = BUCKET_S) -> list[str]:
    return [
        f"{(i * bucket_s) // 3600:02d}:{(i * bucket_s) % 3600 // 60:02d}"
        for i in range(86400 // bucket_s)
    ]


# -- counting --------------------------------------------------------------------------------


def bucket_counts(
    times: Iterable[datetime], day: date, tz: ZoneInfo, bucket_s: int = BUCKET_S
) -> list[int]:
    """Calls per slot of the local day by local wall-clock time (times outside the day are
    left out), so 09:00–09:30 on a Tuesday lines up with 09:00–09:30 a week before."""
    out = [0] * (86400 // bucket_s)
    for t in times:
        local = t.astimezone(tz)
        if local.date() != day:
            continue
        i = (local.hour * 3600 + local.minute * 60 + local.second) // bucket_s
        out[i] += 1
    return out


def mean_series(days: Sequence[Sequence[int]]) -> list[float] | None:
    """The slot-by-slot mean of the days that had any call; None if none had."""
    kept = [d for d in days if any(d)]
    if not kept:
        return None
    return [round(sum(col) / len(kept), 2) for col in zip(*kept, strict=True)]


def upto_now(
    series: Sequence[int], now: datetime, day: date, tz: ZoneInfo, bucket_s: int = BUCKET_S
) -> list[int | None]:
    """Today's series with the slots still to come left empty (None), so the line stops at
    the current half hour instead of dropping to zero."""
    local = now.astimezone(tz)
    if local.date() != day:
        return list(series)
    current = (local.hour * 3600 + local.minute * 60 + local.second) // bucket_s
    return [v if i <= current else None for i, v in enumerate(series)]


def count_between(sorted_times: Sequence[datetime], start: datetime, end: datetime) -> int:
    return bisect.bisect_left(sorted_times, end) - bisect.bisect_left(sorted_times, start)


# -- surges ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Surge:
    kind: str  # "calls", or "topic" for one ticket category
    name: str
    current: int
    baseline: int
    ratio: float | None  # None: nothing the week before
    flagged: bool


def surge(
    current: int,
    baseline: int,
    *,
    kind: str = "calls",
    name: str = "",
    min_ratio: float = SURGE_RATIO,
    min_count: int = SURGE_MIN_CALLS,
) -> Surge:
    ratio = round(current / baseline, 2) if baseline > 0 else None
    clearly_above = ratio is None or ratio >= min_ratio
    return Surge(kind, name, current, baseline, ratio, current >= min_count and clearly_above)


def topic_surges(
    current: dict[str, int], baseline: dict[str, int], *, min_count: int = SURGE_MIN_TICKETS
) -> list[Surge]:
    """The categories clearly above the same hour a week before, the steepest first."""
    out = [
        s
        for name, n in current.items()
        if name != UNCATEGORISED
        and (
            s := surge(n, baseline.get(name, 0), kind="topic", name=name, min_count=min_count)
        ).flagged
    ]
    return sorted(out, key=lambda s: (-(s.ratio or float("inf")), -s.current, s.name))


# -- the day's topics ------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    name: str
    count: int
    share: float  # of every ticket of the day, uncategorised ones included


def top_topics(rows: Iterable[tuple[str | None, int]], n: int = TOP_N) -> tuple[list[Topic], int]:
    """The ``n`` categories with the most tickets (ties by name) and the day's total. Rows
    are (category, count); the same category twice is added up, an empty one counts in the
    total but is never a topic."""
    counts: Counter[str] = Counter()
    total = 0
    for name, k in rows:
        total += k
        key = (name or "").strip()
        if key:
            counts[key] += k
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [Topic(name, k, k / total) for name, k in ranked], total


# -- hot words -------------------------------------------------------------------------------


@cache
def _tagger() -> jieba.posseg.POSTokenizer:
    """The wallboard's own jieba with parts of speech, loaded on first use (about a second;
    call from a thread)."""
    tok = jieba.Tokenizer()
    tok.initialize()
    return jieba.posseg.POSTokenizer(tok)


def _meaningful(flag: str) -> bool:
    """Nouns, verbs, adjectives and set phrases; never a person's name (nr…)."""
    return flag[:1] in KEEP_TAGS and not flag.startswith("nr")


def words_of(text: str, stop: frozenset[str] = STOP_WORDS) -> frozenset[str]:
    """The meaningful words of one text: dictionary words only (no HMM guesses) of two or
    more Chinese characters, no stop words and no personal names."""
    tagger = _tagger()
    out = set()
    for pair in tagger.cut(text, HMM=False):
        w, flag = pair.word, pair.flag
        if w not in stop and _CJK_WORD.fullmatch(w) and _meaningful(flag):
            out.add(w)
    return frozenset(out)


def description_of(transcript_json: str | None) -> str:
    """What the caller said while waiting (the transcript's segments from the recorded
    description), or "" for a call without one or a transcript that is not JSON."""
    try:
        segments = json.loads(transcript_json or "[]")
    except ValueError:
        return ""
    if not isinstance(segments, list):
        return ""
    return "".join(
        str(x.get("text", ""))
        for x in segments
        if isinstance(x, dict) and x.get("source") == "description"
    )


def hot_words(word_sets: Iterable[frozenset[str]], n: int = HOT_WORDS) -> list[tuple[str, int]]:
    """The words found in the most texts (ties by word), each with how many texts had it."""
    df: Counter[str] = Counter()
    for ws in word_sets:
        df.update(ws)
    return sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
