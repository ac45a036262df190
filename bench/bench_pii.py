"""Throughput of PII masking on a realistic mix of agent texts (a script, not a test).

Builds 10,000 agent-like texts of 200-2,000 characters (thoughts, tool calls, logs with timestamps, UUIDs,
SHAs, versions, code, search results), about 10 % of which carry one or more PII items, then times
:meth:`PiiMasker.mask_text` over all of them, and :meth:`PiiMasker.mask_json` plus ``mask_text`` on
event-shaped dicts as the ingest enrich stage calls them. Then the ingest hot path's own case: 10,000 typical
agent events (content of 150-300 characters of prose, paths, test output and code; 2-5 short attributes), timed
once without any PII (the >90 % case) and once with one PII item planted in every content. Each figure is the
median of 5 runs.

Run: ``.venv/bin/python bench/bench_pii.py [--texts N] [--runs R] [--seed S]``
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from escai.ingest.pii import PiiMasker, PiiMaskingConfig

_WORDS = (
    *("the", "agent", "plan", "step", "tool", "result", "search", "query", "answer", "context", "retrieve"),
    *("document", "summary", "user", "goal", "observation", "action", "reasoning", "memory", "vector"),
    *("index", "latency", "cache", "retry", "error", "timeout", "response", "model", "prompt", "completion"),
    *("function", "call", "arguments", "schema", "validate", "parse", "output", "format", "json", "update"),
)

_PII_SNIPPETS = (
    "Please e-mail the report to {name}@example-corp.com when done.",
    "Customer phone: +1 (415) 555-{n4}, alt +44 20 7946 {n4}.",
    "Call me on 415-555-{n4} tomorrow.",
    "Card on file: 4111 1111 1111 1111, expiry 12/29.",
    "Using key sk-proj-{rand32} for the OpenAI client.",
    'headers = {{"Authorization": "Bearer {rand32}"}}',
    "Connected from 203.0.113.{octet} via proxy 2001:db8::{octet}.",
    'config: {{"db_password": "{rand12}", "region": "eu-west-1"}}',
    "AWS creds AKIA{upper16} loaded from env.",
    "Contact: {name}.{name}@mail.example.org, ext. 42",
)


# Typical agent events: what an agent loop emits step after step. Digits, paths, colons, "=" and code on purpose,
# since those are what make a cheap pre-check fire without any PII present.
_TYPICAL_TEMPLATES = (
    "Thought: step {n} of the plan. I will {words} before reading page {page} of the results.",
    "Tool result: ===== {passed} passed, {failed} failed in {secs}s ===== tests/unit/test_{name}.py:{line} {words}.",
    "Action: read_file(path='/work/src/{name}/{name2}.py', start={line}, end={line2}) -> {words}.",
    "```python\ndef {name}(items: list[int]) -> list[int]:\n    return sorted(items)[::-1][:{page}]\n```\n{words}",
    "Observation: {passed} documents matched; the best (score 0.{score}) says the {words}.",
    "Step {page}/{total}: {words}. Retrying after {ms} ms (attempt {page} of 5), max_tokens={tokens}.",
    "{date} INFO agent.planner: iteration {page} finished in {secs}s, {words}.",
    "Final answer: the {words}. Sources: docs/{name}.md, section {page}.{line}.",
)
_TOOL_NAMES = ("web_search", "read_file", "run_tests", "python", "write_file", "retrieve")
_MODELS = ("gpt-4o-mini", "gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "llama3.1:8b")


def _typical_content(rng: random.Random) -> str:
    """One 150-300 character piece of agent output without PII."""
    target = rng.randint(150, 300)
    text = ""
    while len(text) < target:
        text += rng.choice(_TYPICAL_TEMPLATES).format(
            n=rng.randint(1, 99_999),
            total=rng.randint(10, 99),
            page=rng.randint(1, 9),
            passed=rng.randint(1, 400),
            failed=rng.randint(0, 3),
            secs=f"{rng.uniform(0.01, 30):.2f}",
            name=rng.choice(_WORDS),
            name2=rng.choice(_WORDS),
            line=rng.randint(1, 900),
            line2=rng.randint(900, 2000),
            score=rng.randint(100, 999),
            ms=rng.randint(10, 5000),
            tokens=rng.choice((256, 1024, 4096)),
            date=f"2026-11-{rng.randint(10, 28)} {rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
            words=" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))),
        )
        text += " "
    return text[:target]


def _typical_attributes(rng: random.Random) -> dict[str, Any]:
    """2-5 short attributes as the SDK and the OTLP receiver attach them; names and values repeat a lot."""
    candidates: list[tuple[str, Any]] = [
        ("gen_ai.request.model", rng.choice(_MODELS)),
        ("iteration", rng.randint(1, 40)),
        ("gen_ai.usage.input_tokens", rng.randint(10, 8000)),
        ("gen_ai.tool.name", rng.choice(_TOOL_NAMES)),
        ("gen_ai.operation.name", rng.choice(("chat", "execute_tool", "invoke_agent"))),
        ("escai.framework", "langgraph"),
    ]
    size = rng.randint(2, 5)
    return dict(candidates[:1] + rng.sample(candidates[1:], size - 1))


def build_typical_events(count: int, seed: int, *, with_pii: bool) -> list[tuple[str, dict[str, Any]]]:
    """``count`` (content, attributes) pairs of typical events; with ``with_pii`` each content holds one PII item."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        content = _typical_content(rng)
        if with_pii:
            cut = max(0, content.rfind(" ", 0, rng.randint(0, len(content))) + 1)
            content = content[:cut] + _pii(rng) + content[cut:]
        events.append((content, _typical_attributes(rng)))
    return events


def _rand(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _fragment(rng: random.Random) -> str:
    """One clean (PII-free) piece of agent output; digits, colons and dots on purpose."""
    kind = rng.randrange(8)
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 25)))
    if kind == 0:
        return f"Thought: I should {words}. "
    if kind == 1:
        return (
            f'{{"tool": "web_search", "arguments": {{"query": "{words}", "max_results": {rng.randint(1, 20)}}}, '
            f'"call_id": "call_{uuid.UUID(int=rng.getrandbits(128))}", "max_tokens": 1024}} '
        )
    if kind == 2:
        return (
            f"2026-11-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}."
            f"{rng.randint(100, 999)}Z INFO [agent=planner] step={rng.randint(1, 40)} "
            f"latency_ms={rng.uniform(1, 900):.1f} prompt_tokens={rng.randint(10, 4000)} {words}\n"
        )
    if kind == 3:
        return f"commit {rng.getrandbits(160):040x} bumps numpy==1.26.{rng.randint(0, 9)} and python 3.11.7; {words}. "
    if kind == 4:
        return f"def score(a, b):\n    return (a @ b.T)[::2] / {rng.randint(2, 99)}  # {words}\n"
    if kind == 5:
        return f"Observation: https://docs.python.org/3/library/re.html#section-{rng.randint(1, 9)} says {words}. "
    if kind == 6:
        return f"| {rng.randint(1, 999)} | {rng.uniform(0, 1):.3f} | {words} | {rng.randint(10_000, 99_999)} |\n"
    return f"Action: retrieve(doc_id={rng.randint(1, 10**9)}, version='2.4.1') -> {words}. "


def _pii(rng: random.Random) -> str:
    template = rng.choice(_PII_SNIPPETS)
    return (
        template.format(
            name=_rand(rng, "abcdefghijklmnopqrstuvwxyz", rng.randint(3, 8)),
            n4=f"{rng.randint(0, 9999):04d}",
            rand32=_rand(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 32),
            rand12=_rand(rng, "abcdefghijklmnopqrstuvwxyz0123456789!#%", 12),
            octet=rng.randint(1, 254),
            upper16=_rand(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
        )
        + " "
    )


def build_corpus(count: int, seed: int) -> tuple[list[str], set[int]]:
    """``count`` texts of 200-2,000 characters; returns them and the indexes of those with PII planted."""
    rng = random.Random(seed)
    texts: list[str] = []
    with_pii: set[int] = set()
    for _ in range(count):
        target = rng.randint(200, 2000)
        parts: list[str] = []
        size = 0
        while size < target:
            parts.append(_fragment(rng))
            size += len(parts[-1])
        text = "".join(parts)[:target]
        if rng.random() < 0.10:
            with_pii.add(len(texts))
            snippet = _pii(rng)
            cut = rng.randint(0, max(0, len(text) - len(snippet)))
            # Plant at a space so the snippet is not glued to a truncated word, then keep the length budget.
            cut = max(0, text.rfind(" ", 0, cut) + 1)
            text = (text[:cut] + snippet + text[cut:])[: max(target, len(snippet))]
        texts.append(text)
    return texts, with_pii


def _median_seconds(work: Callable[[], Any], runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``runs`` calls; CPU time is less disturbed by neighbours."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def _count_wrong(masker: PiiMasker, events: list[tuple[str, dict[str, Any]]], *, expect_pii: bool) -> str:
    """How many typical events the masker got wrong: clean ones changed, or PII ones left unchanged."""
    if expect_pii:
        missed = sum(1 for content, _ in events if not masker.mask_text(content).counts)
        return f"{missed} with PII unchanged"
    changed = sum(
        1 for content, attributes in events if masker.mask_text(content).counts or masker.mask_json(attributes).counts
    )
    return f"{changed} changed"


def main() -> None:
    """Print machine information and masking throughput figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()

    texts, with_pii = build_corpus(args.texts, args.seed)
    total_bytes = sum(len(text.encode()) for text in texts)
    rng = random.Random(args.seed)
    # What the enrich stage sees: content plus typical attributes, of which most strings repeat across events
    # (keys, model, tool, header values) and a few do not (the tool query, the run id).
    events = [
        {
            "content": text,
            "attributes": {
                "llm.model": "gpt-4o-2024-08-06",
                "llm.usage": {"prompt_tokens": 812, "completion_tokens": 96, "total_tokens": 908},
                "tool.name": "web_search",
                "tool.arguments": {"query": text[:120], "max_results": 5},
                "http.headers": {"content-type": "application/json", "authorization": "Bearer abc"},
                "run_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            },
        }
        for text in texts
    ]

    typical_clean = build_typical_events(args.texts, args.seed, with_pii=False)
    typical_pii = build_typical_events(args.texts, args.seed + 1, with_pii=True)

    print(f"platform : {platform.platform()}")
    print(f"machine  : {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"cpus     : {os.cpu_count()}")
    print(f"python   : {sys.version.split()[0]} ({platform.python_implementation()})")
    clean_mean = statistics.mean(len(content) for content, _ in typical_clean)
    pii_mean = statistics.mean(len(content) for content, _ in typical_pii)
    print(
        f"typical  : {len(typical_clean)} clean events (content mean {clean_mean:.0f} chars) and "
        f"{len(typical_pii)} events with one PII item each (content mean {pii_mean:.0f} chars)"
    )
    print(
        f"corpus   : {len(texts)} texts, {total_bytes / 1e6:.2f} MB, "
        f"mean {total_bytes / len(texts):.0f} B, {len(with_pii)} with planted PII ({len(with_pii) / len(texts):.1%})"
    )

    # The corpus is ~200k long-lived objects; freezing them keeps the cyclic GC from re-walking them during
    # the timed loops, which would measure the collector rather than the masker.
    gc.collect()
    gc.freeze()

    for style, config in (
        ("placeholder", PiiMaskingConfig()),
        ("hash", PiiMaskingConfig(style="hash", hash_key=b"bench-key-not-secret")),
    ):
        masker = PiiMasker(config)
        masked = [masker.mask_text(text) for text in texts]
        changed = {index for index, result in enumerate(masked) if result.counts}
        found = masker.masked_counts

        # A fresh masker per run: its cache of clean short strings must not carry over from the previous
        # run, or every string would be a repeat and the figure would flatter the masker.
        def mask_texts(config: PiiMaskingConfig = config) -> None:
            masker = PiiMasker(config)
            for text in texts:
                masker.mask_text(text)

        def mask_events(config: PiiMaskingConfig = config) -> None:
            masker = PiiMasker(config)
            for event in events:
                masker.mask_text(event["content"])  # type: ignore[arg-type]
                masker.mask_json(event["attributes"])

        def mask_typical(events: list[tuple[str, dict[str, Any]]], config: PiiMaskingConfig = config) -> None:
            masker = PiiMasker(config)
            for content, attributes in events:
                masker.mask_text(content)
                masker.mask_json(attributes)

        seconds, cpu_seconds = _median_seconds(mask_texts, args.runs)
        event_seconds, event_cpu_seconds = _median_seconds(mask_events, args.runs)
        typical = {
            label: _median_seconds(functools.partial(mask_typical, typical_events), args.runs)
            for label, typical_events in (("clean", typical_clean), ("pii", typical_pii))
        }
        print(
            f"\nstyle={style}: {len(changed)} texts changed, {len(changed - with_pii)} of them without planted PII, "
            f"{len(with_pii - changed)} with PII unchanged; items masked per pass {found}"
        )
        print(
            f"  mask_text          : {len(texts) / seconds:>8,.0f} texts/s  {total_bytes / seconds / 1e6:5.1f} MB/s"
            f"  {seconds * 1e6 / len(texts):6.1f} us/text   (CPU time: {len(texts) / cpu_seconds:,.0f} texts/s)"
        )
        print(
            f"  event (text+attrs) : {len(events) / event_seconds:>8,.0f} events/s"
            f"             {event_seconds * 1e6 / len(events):6.1f} us/event  "
            f"(CPU time: {len(events) / event_cpu_seconds:,.0f} events/s)"
        )
        for label, typical_events in (("clean", typical_clean), ("pii", typical_pii)):
            wrong = _count_wrong(PiiMasker(config), typical_events, expect_pii=label == "pii")
            typical_seconds, typical_cpu_seconds = typical[label]
            print(
                f"  typical {label:5s} event: {len(typical_events) / typical_seconds:>8,.0f} events/s"
                f"             {typical_seconds * 1e6 / len(typical_events):6.1f} us/event  "
                f"(CPU time: {len(typical_events) / typical_cpu_seconds:,.0f} events/s; {wrong})"
            )
    print(f"\nmedian of {args.runs} runs each; a fresh masker per run, so no cache carries over between runs")


if __name__ == "__main__":
    main()
