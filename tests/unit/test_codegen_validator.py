"""The quality validator: a sound package scores 1, and each kind of breakage fails the check that should catch it."""

from __future__ import annotations

from pathlib import Path

import pytest

from escai.codegen.validator import CHECK_NAMES, CHECK_WEIGHTS, QualityReport, validate_package

_PYPROJECT = """\
[project]
name = "doubler"
version = "0.1.0"
requires-python = ">=3.11"

[project.entry-points."escai.plugins"]
doubler = "doubler.node:Doubler"

[tool.ruff]
line-length = 120
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I"]

[tool.ruff.lint.isort]
known-first-party = ["doubler"]

[tool.pytest.ini_options]
filterwarnings = ["error"]
"""

_NODE = '''\
"""A node that doubles a number."""

from __future__ import annotations

from escai.nodes import ComputeNode
from pydantic import BaseModel


class DoublerInput(BaseModel):
    """The number."""

    value: int


class DoublerOutput(BaseModel):
    """Twice the number."""

    doubled: int


class DoublerConfig(BaseModel):
    """No settings."""


class Doubler(ComputeNode[DoublerInput, DoublerOutput, DoublerConfig]):
    """Double ``value``."""

    input_model = DoublerInput
    output_model = DoublerOutput
    config_model = DoublerConfig

    def compute(self, data: DoublerInput) -> DoublerOutput:
        """Return twice the input."""
        return DoublerOutput(doubled=data.value * 2)
'''

_TEST = '''\
"""Tests of the doubler."""

from __future__ import annotations

import asyncio

from doubler.node import Doubler, DoublerInput


def test_doubles() -> None:
    """Three doubled is six."""
    assert asyncio.run(Doubler().run(DoublerInput(value=3))).doubled == 6
'''


def _write_package(root: Path, *, node: str = _NODE, test: str = _TEST, pyproject: str = _PYPROJECT) -> Path:
    (root / "src" / "doubler").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(pyproject)
    (root / "src" / "doubler" / "__init__.py").write_text('"""The doubler plugin."""\n')
    (root / "src" / "doubler" / "node.py").write_text(node)
    (root / "tests" / "test_doubler.py").write_text(test)
    return root


def _failed(report: QualityReport) -> set[str]:
    return set(report.failed_checks)


def test_weights_sum_to_one() -> None:
    """The documented weights cover every check and add up to exactly 1."""
    assert set(CHECK_WEIGHTS) == set(CHECK_NAMES)
    assert sum(CHECK_WEIGHTS.values()) == pytest.approx(1.0)


def test_a_sound_package_passes_every_check_and_scores_one(tmp_path: Path) -> None:
    """A formatted, typed, importable package with a passing test and a node entry point scores exactly 1."""
    report = validate_package(_write_package(tmp_path))
    assert [check.name for check in report.checks] == list(CHECK_NAMES)
    assert report.failed_checks == [], [check.messages for check in report.checks]
    assert report.passed
    assert report.score == 1.0
    assert report.packages == ["doubler"]
    assert all(check.duration_ms > 0 for check in report.checks)


def test_a_syntax_error_fails_the_syntax_check_and_names_the_file(tmp_path: Path) -> None:
    """A file that does not parse fails ``syntax`` with its path and line, and the package cannot import."""
    broken = _NODE.replace("def compute(self, data: DoublerInput) -> DoublerOutput:", "def compute(self, data:")
    report = validate_package(_write_package(tmp_path, node=broken), checks=("syntax", "import"))
    assert _failed(report) == {"syntax", "import"}
    assert any("src/doubler/node.py" in message for message in report.check("syntax").messages)
    assert report.score == 0.0


def test_bad_formatting_fails_only_the_format_check(tmp_path: Path) -> None:
    """Code that is valid and clean but laid out differently from ruff format fails ``format`` alone."""
    unformatted = _NODE.replace(
        "return DoublerOutput(doubled=data.value * 2)", "return DoublerOutput( doubled = data.value*2 )"
    )
    report = validate_package(_write_package(tmp_path, node=unformatted), checks=("syntax", "format", "lint", "import"))
    assert _failed(report) == {"format"}
    assert report.score == pytest.approx(
        1 - CHECK_WEIGHTS["format"] - CHECK_WEIGHTS["typecheck"] - CHECK_WEIGHTS["tests"]
    )


def test_an_unused_import_fails_the_lint_check_with_the_rule(tmp_path: Path) -> None:
    """An unused import is reported by ``lint`` with ruff's rule code."""
    linted = _NODE.replace("from __future__ import annotations\n", "from __future__ import annotations\n\nimport os\n")
    report = validate_package(_write_package(tmp_path, node=linted), checks=("format", "lint"))
    assert _failed(report) == {"lint"}
    assert any("F401" in message for message in report.check("lint").messages)


def test_a_type_error_fails_only_the_typecheck(tmp_path: Path) -> None:
    """Returning the wrong type still imports and runs but fails ``mypy --strict``."""
    mistyped = _NODE.replace(
        "def compute(self, data: DoublerInput) -> DoublerOutput:\n",
        "def compute(self, data: DoublerInput) -> DoublerOutput:\n        label: int = 'x'\n",
    )
    report = validate_package(_write_package(tmp_path, node=mistyped), checks=("typecheck", "import", "tests"))
    assert _failed(report) == {"typecheck"}
    assert any("node.py" in message and "assignment" in message for message in report.check("typecheck").messages)


def test_an_entry_point_that_is_not_a_node_fails_the_import_check(tmp_path: Path) -> None:
    """An ``escai.plugins`` entry point naming something other than a node class fails ``import``."""
    pyproject = _PYPROJECT.replace('"doubler.node:Doubler"', '"doubler.node:DoublerInput"')
    report = validate_package(_write_package(tmp_path, pyproject=pyproject), checks=("import",))
    assert _failed(report) == {"import"}
    assert any("not an ESCAI node class" in message for message in report.check("import").messages)


def test_a_failing_test_fails_only_the_tests_check(tmp_path: Path) -> None:
    """A test whose assertion is wrong fails ``tests`` while the package still imports."""
    wrong = _TEST.replace("== 6", "== 7")
    report = validate_package(_write_package(tmp_path, test=wrong), checks=("import", "tests"))
    assert _failed(report) == {"tests"}
    assert any("test_doubles" in message for message in report.check("tests").messages)


def test_a_package_without_tests_fails_the_tests_check(tmp_path: Path) -> None:
    """Collecting no test is a failure, not a pass: an untested package does not earn the tests' weight."""
    report = validate_package(_write_package(tmp_path, test='"""No tests."""\n'), checks=("tests",))
    assert report.check("tests").messages == ["pytest collected no tests"]


def test_a_check_that_exceeds_its_timeout_fails_and_says_so(tmp_path: Path) -> None:
    """A test that hangs past the timeout fails ``tests`` with ``timed_out`` set instead of blocking the validator."""
    slow = _TEST.replace(
        '    """Three doubled is six."""\n', '    """Three doubled is six."""\n    import time\n\n    time.sleep(30)\n'
    )
    report = validate_package(_write_package(tmp_path, test=slow), checks=("tests",), timeout_seconds=2)
    assert report.check("tests").timed_out
    assert "timed out" in report.check("tests").messages[0]


def test_a_missing_directory_raises_and_an_unknown_check_is_refused(tmp_path: Path) -> None:
    """The caller's mistakes raise; only problems inside the package become check results."""
    with pytest.raises(FileNotFoundError):
        validate_package(tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown checks"):
        validate_package(tmp_path, checks=("style",))
