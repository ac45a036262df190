"""The AST pattern matcher: each rule's positives and negatives, and feedback that changes what it reports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from escai.codegen.patterns import (
    RULE_IDS,
    RuleTuning,
    Tuning,
    learn_threshold,
    load_tuning,
    precision_report,
    record,
    scan_path,
    scan_source,
)
from escai.codegen.patterns.corpus import evaluate, load_corpus, split_corpus
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async
from escai.store.seed_repository import UnknownFeedbackTypeError

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "patterns"

# One clear positive (the rule must report line 2 or the marked line) and one near-miss negative per rule.
CASES: dict[str, tuple[str, str]] = {
    "blocking-call-in-async": (
        "import time\nasync def run():\n    time.sleep(1)  # hit\n",
        "import asyncio\nasync def run():\n    await asyncio.sleep(1)\n",
    ),
    "swallowed-exception": (
        "def run(task):\n    try:\n        task()\n    except:  # hit\n        pass\n",
        "def run(task):\n    try:\n        task()\n    except ValueError:\n        pass\n",
    ),
    "mutable-default-argument": (
        "def add(item, items=[]):  # hit\n    items.append(item)\n",
        "def add(item, items=None):\n    items = items or []\n",
    ),
    "missing-await": (
        "async def save():\n    return 1\nasync def run():\n    save()  # hit\n",
        "async def save():\n    return 1\nasync def run():\n    await save()\n",
    ),
    "hardcoded-secret": (
        'API_KEY = "sk-proj4Hq8ZtW2mXv9LkR3nBc7YdP1"  # hit\n',
        'import os\nAPI_KEY = os.environ["API_KEY"]\napi_key = "<your-key>"\n',
    ),
    "unreachable-code": (
        "def run():\n    return 1\n    print('never')  # hit\n",
        "def run(flag):\n    if flag:\n        return 1\n    return 2\n",
    ),
    "todo-only-body": (
        "def run():  # hit\n    # TODO: write this\n    pass\n",
        "from abc import abstractmethod\nclass Base:\n    @abstractmethod\n    def run(self):\n        pass\n",
    ),
    "none-equality": (
        "def run(value):\n    return value == None  # hit\n",
        "def run(value):\n    return value is None\n",
    ),
    "shadowed-builtin": (
        "def run(values):\n    list = sorted(values)  # hit\n    return list\n",
        "class User:\n    id: int\n    type: str\n",
    ),
    "assert-in-production": (
        "def run(user):\n    assert user.is_admin  # hit\n",
        "def run(user):\n    assert user is not None\n    return user.name\n",
    ),
    "fstring-without-placeholders": (
        "def run():\n    return f'plain'  # hit\n",
        "def run(width, value):\n    return f'{value:{width}}'\n",
    ),
}


def hit_lines(code: str) -> set[int]:
    """Lines of ``code`` marked ``# hit``."""
    return {number for number, line in enumerate(code.splitlines(), start=1) if line.endswith("# hit")}


def test_every_rule_has_cases() -> None:
    """The table above covers every registered rule, so a new rule cannot ship untested."""
    assert set(CASES) == set(RULE_IDS)


@pytest.mark.parametrize("pattern_id", sorted(CASES))
def test_rule_reports_its_positive_sample(pattern_id: str) -> None:
    """Each rule reports a finding exactly on the marked line of its positive sample, with a confidence."""
    code = CASES[pattern_id][0]
    findings = [finding for finding in scan_source(code) if finding.pattern_id == pattern_id]
    assert {finding.line for finding in findings} == hit_lines(code)
    assert all(0.5 <= finding.confidence <= 1 and finding.message for finding in findings)


@pytest.mark.parametrize("pattern_id", sorted(CASES))
def test_rule_is_silent_on_its_negative_sample(pattern_id: str) -> None:
    """Each rule reports nothing on a near-miss that does not have the problem."""
    findings = scan_source(CASES[pattern_id][1], rules=[pattern_id])
    assert findings == []


def test_asserts_in_test_code_are_not_reported() -> None:
    """The same assert is reported in library code and not in a test module."""
    code = "def test_admin(user):\n    assert user.is_admin\n"
    assert [finding.pattern_id for finding in scan_source(code, "src/app/users.py")] == ["assert-in-production"]
    assert scan_source(code, "tests/test_users.py") == []


def test_unreported_candidates_are_kept_on_request() -> None:
    """A parameter named ``id`` is a low-confidence candidate: hidden by default, listed as unreported on request."""
    code = "def get(id):\n    return id\n"
    assert scan_source(code) == []
    [candidate] = scan_source(code, include_unreported=True)
    assert candidate.pattern_id == "shadowed-builtin"
    assert not candidate.reported
    assert candidate.base_confidence < 0.5


def test_scan_path_reads_a_folder_and_skips_files_that_do_not_parse(tmp_path: Path) -> None:
    """Every parsable ``.py`` file under a folder is scanned and findings name their file."""
    (tmp_path / "good.py").write_text("def run(items=[]):\n    return items\n")
    (tmp_path / "broken.py").write_text("def run(:\n")
    findings = scan_path(tmp_path)
    assert [(Path(finding.path or "").name, finding.pattern_id) for finding in findings] == [
        ("good.py", "mutable-default-argument")
    ]


def test_threshold_moves_past_false_positives_and_below_false_negatives() -> None:
    """False positives raise a rule's threshold above them; false negatives lower it; one review does not."""
    assert learn_threshold(positives=[0.9, 0.95], negatives=[0.55, 0.6]) > 0.6
    assert learn_threshold(positives=[0.35, 0.38, 0.9], negatives=[]) < 0.35
    assert learn_threshold(positives=[0.35], negatives=[]) == 0.5
    assert learn_threshold(positives=[], negatives=[]) == 0.5


def test_false_positives_lower_the_calibrated_confidence() -> None:
    """A rule with many false positives in its posterior reports a lower confidence for the same candidate."""
    code = "def run(items=[]):\n    return items\n"
    noisy = Tuning({"mutable-default-argument": RuleTuning(alpha=4, beta=11)})
    [default_finding] = scan_source(code)
    [noisy_finding] = scan_source(code, tuning=noisy)
    assert noisy_finding.confidence < default_finding.confidence
    assert noisy_finding.base_confidence == default_finding.base_confidence


async def test_feedback_in_the_log_changes_what_the_matcher_reports(database_url: str) -> None:
    """Reviews recorded in pattern_feedback_log move thresholds, suppress overrides and feed the precision report."""
    await upgrade_async(database_url)
    blocking = textwrap.dedent(
        """
        import time
        async def load(path):
            time.sleep(1)
            with open(path) as handle:
                return handle.read()
        """
    )
    logging_only = "def run(task, log):\n    try:\n        task()\n    except Exception:\n        log.warning('x')\n"
    shadowing = "def run(values):\n    list = sorted(values)\n    return list\n"
    [sleep, opened] = scan_source(blocking, "app.py")
    [candidate] = scan_source(logging_only, include_unreported=True)
    [shadow] = scan_source(shadowing)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await record(conn, sleep, "true_positive", user="reviewer")
            for _ in range(2):
                await record(conn, opened, "false_positive", note="small config file")
                await record(conn, candidate, "false_negative", confidence=candidate.base_confidence)
            await record(conn, shadow, "user_override")
        async with engine.connect() as conn:
            tuning = await load_tuning(conn)
            report = {row.pattern_id: row for row in await precision_report(conn)}
    finally:
        await engine.dispose()

    assert [finding.line for finding in scan_source(blocking, "app.py", tuning=tuning)] == [sleep.line]
    assert [finding.pattern_id for finding in scan_source(logging_only, tuning=tuning)] == ["swallowed-exception"]
    assert scan_source(shadowing, tuning=tuning) == []
    assert scan_source("def other(values):\n    list = [1]\n", tuning=tuning) != []
    blocking_row = report["blocking-call-in-async"]
    assert (blocking_row.true_positives, blocking_row.false_positives) == (1, 2)
    assert blocking_row.precision == pytest.approx(1 / 3)
    assert blocking_row.false_positive_rate == pytest.approx(2 / 3)
    assert blocking_row.posterior_mean == pytest.approx(5 / 8)
    assert report["unreachable-code"].precision is None


async def test_unknown_feedback_type_is_refused(database_url: str) -> None:
    """A feedback type outside the four is refused and nothing is written."""
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            with pytest.raises(UnknownFeedbackTypeError):
                await record(conn, "missing-await", "looks_fine")  # type: ignore[arg-type]
            assert await load_tuning(conn) == Tuning()
    finally:
        await engine.dispose()


def test_corpus_labels_agree_with_default_matcher_mostly() -> None:
    """On the committed labelled corpus the default matcher is precise and finds most expected findings."""
    samples = load_corpus(CORPUS)
    train, held_out = split_corpus(samples)
    assert len(train) + len(held_out) == len(samples) > 100
    assert {sample.pattern_id for sample in samples} == set(RULE_IDS)
    total = evaluate(samples).total()
    assert total.precision is not None and total.precision >= 0.9
    assert total.recall is not None and total.recall >= 0.8
