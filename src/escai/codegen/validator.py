"""The quality validator: does a generated (or any src-layout) package parse, lint, type-check, import and pass?

:func:`validate_package` runs six checks on a package directory (``pyproject.toml``, ``src/<package>/``,
``tests/``), each in its own subprocess with its own timeout, and scores the result:

=============  ======  ==================================================================================
check          weight  what passes
=============  ======  ==================================================================================
``syntax``     0.15    every ``.py`` file parses with :func:`ast.parse`
``format``     0.05    ``ruff format --check`` finds nothing to reformat
``lint``       0.10    ``ruff check`` reports nothing (the package's own ruff settings)
``typecheck``  0.20    ``mypy --strict`` on ``src`` and ``tests`` finds no error
``import``     0.20    every package under ``src`` imports, and every ``escai.plugins`` entry point of the
                       ``pyproject.toml`` resolves to an ESCAI node class
``tests``      0.30    the package's tests run with pytest, at least one, all passing
=============  ======  ==================================================================================

The score is the sum of the weights of the checks that passed (so it lies in [0, 1] and is 1 only when all
pass). The weights favour what a user of the plugin feels: tests and importability above style. A check that
cannot run (ruff or mypy missing, a timeout) fails with a message saying why; it is never silently skipped.

pytest runs with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`` by default: the package's tests should not depend on
whichever pytest plugins the validating environment happens to have (some warn at start-up, which a package's
``filterwarnings = error`` turns into a failure that says nothing about the package).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "CHECK_NAMES",
    "CHECK_WEIGHTS",
    "DEFAULT_TIMEOUT_SECONDS",
    "CheckResult",
    "QualityReport",
    "validate_package",
]

CHECK_WEIGHTS: Final[Mapping[str, float]] = {
    "syntax": 0.15,
    "format": 0.05,
    "lint": 0.10,
    "typecheck": 0.20,
    "import": 0.20,
    "tests": 0.30,
}
"""Each check's share of the score; they sum to 1."""
CHECK_NAMES: Final = tuple(CHECK_WEIGHTS)
DEFAULT_TIMEOUT_SECONDS: Final = 180.0
_MAX_MESSAGES: Final = 50
_PLUGIN_GROUP: Final = "escai.plugins"

# Run in the validated package's interpreter: import each package, then resolve each entry point and check that
# it is an ESCAI node class. Prints one problem per line; exit status 1 if there was any.
_IMPORT_PROBE: Final = """
import importlib, json, sys
problems = []
packages, entry_points = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in packages:
    try:
        importlib.import_module(name)
    except BaseException as error:
        problems.append(f"import {name}: {type(error).__name__}: {error}")
if entry_points:
    from escai.nodes.base import Node
for entry_name, value in entry_points.items():
    module_name, _, attribute = value.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in filter(None, attribute.split(".")):
            target = getattr(target, part)
    except BaseException as error:
        problems.append(f"entry point {entry_name} = {value}: {type(error).__name__}: {error}")
        continue
    if not (isinstance(target, type) and issubclass(target, Node)):
        problems.append(f"entry point {entry_name} = {value} is not an ESCAI node class")
print("\\n".join(problems))
sys.exit(1 if problems else 0)
"""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check: passed or not, what it said, how long it took."""

    name: str
    passed: bool
    duration_ms: float
    messages: list[str] = field(default_factory=list)
    """The check's findings (one per line, at most 50), or why it could not run."""
    timed_out: bool = False

    @property
    def weight(self) -> float:
        """This check's share of the score."""
        return CHECK_WEIGHTS.get(self.name, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "name": self.name,
            "passed": self.passed,
            "weight": self.weight,
            "duration_ms": round(self.duration_ms, 3),
            "timed_out": self.timed_out,
            "messages": list(self.messages),
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Every check's result on one package, with the weighted score (see the module docstring)."""

    path: Path
    packages: list[str]
    checks: list[CheckResult]
    duration_ms: float

    @property
    def score(self) -> float:
        """Sum of the weights of the checks that passed, in [0, 1]."""
        return round(sum(check.weight for check in self.checks if check.passed), 6)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``; KeyError if it did not run."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def failed_checks(self) -> list[str]:
        """Names of the checks that did not pass, in run order."""
        return [check.name for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": str(self.path),
            "packages": list(self.packages),
            "score": self.score,
            "passed": self.passed,
            "duration_ms": round(self.duration_ms, 3),
            "checks": [check.to_dict() for check in self.checks],
        }


def validate_package(
    path: Path | str,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    python: str | None = None,
    checks: Sequence[str] = CHECK_NAMES,
    pytest_plugin_autoload: bool = False,
) -> QualityReport:
    """Run the quality checks on the package at ``path`` and score them (see the module docstring).

    ``python`` is the interpreter that imports, type-checks and tests the package (default: this one; it must
    have mypy and pytest). ``checks`` picks a subset, in the order given. ``timeout_seconds`` bounds each check.
    Raises :class:`FileNotFoundError` when ``path`` is not a directory; problems in the package never raise.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    unknown = [name for name in checks if name not in CHECK_WEIGHTS]
    if unknown:
        raise ValueError(f"unknown checks {unknown}; expected some of {', '.join(CHECK_NAMES)}")
    runner = _Runner(root, python or sys.executable, timeout_seconds, pytest_plugin_autoload)
    started = time.perf_counter()
    results = [runner.run(name) for name in checks]
    return QualityReport(root, runner.packages, results, (time.perf_counter() - started) * 1000)


def _ruff_binary() -> str | None:
    sibling = Path(sys.executable).with_name("ruff")
    return str(sibling) if sibling.exists() else shutil.which("ruff")


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if len(lines) > _MAX_MESSAGES:
        return [*lines[:_MAX_MESSAGES], f"... and {len(lines) - _MAX_MESSAGES} more lines"]
    return lines


class _Runner:
    """Runs the checks of one package; knows its layout, interpreter and environment."""

    def __init__(self, root: Path, python: str, timeout_seconds: float, pytest_plugin_autoload: bool) -> None:
        self.root = root
        self.python = python
        self.timeout_seconds = timeout_seconds
        self.pytest_plugin_autoload = pytest_plugin_autoload
        self.source = root / "src" if (root / "src").is_dir() else root
        self.packages = sorted(
            child.name
            for child in self.source.iterdir()
            if child.is_dir() and (child / "__init__.py").is_file() and child.name.isidentifier()
        )
        self.tests = root / "tests"

    def run(self, name: str) -> CheckResult:
        """Run the check called ``name`` and time it."""
        started = time.perf_counter()
        check = getattr(self, f"_check_{name}")
        passed, messages, timed_out = check()
        return CheckResult(name, passed, (time.perf_counter() - started) * 1000, messages, timed_out)

    def _python_files(self) -> list[Path]:
        ignored = {".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
        return sorted(
            file for file in self.root.rglob("*.py") if not ignored.intersection(file.relative_to(self.root).parts)
        )

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        # The package's own sources first, so an installed copy of an older generation cannot shadow them.
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.source), environment.get("PYTHONPATH")]))
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        for inherited in ("PYTEST_ADDOPTS", "MYPYPATH"):
            environment.pop(inherited, None)
        return environment

    def _execute(self, command: Sequence[str], environment: Mapping[str, str] | None = None) -> tuple[int | None, str]:
        """Run ``command`` in the package directory; (exit status or None on timeout, stdout + stderr)."""
        try:
            completed = subprocess.run(  # noqa: S603 - fixed tools (ruff, this interpreter) with our arguments
                list(command),
                cwd=self.root,
                env=dict(environment or self._environment()),
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"timed out after {self.timeout_seconds:g} s: {' '.join(command[:3])} ..."
        except OSError as error:
            return 127, f"cannot run {command[0]}: {error}"
        return completed.returncode, f"{completed.stdout}\n{completed.stderr}"

    def _result(
        self, command: Sequence[str], environment: Mapping[str, str] | None = None
    ) -> tuple[bool, list[str], bool]:
        status, output = self._execute(command, environment)
        if status is None:
            return False, [output], True
        return status == 0, ([] if status == 0 else _lines(output)), False

    def _check_syntax(self) -> tuple[bool, list[str], bool]:
        problems: list[str] = []
        files = self._python_files()
        for file in files:
            try:
                ast.parse(file.read_bytes(), filename=str(file))
            except SyntaxError as error:
                problems.append(f"{file.relative_to(self.root)}:{error.lineno}: {error.msg}")
            except (OSError, ValueError) as error:
                problems.append(f"{file.relative_to(self.root)}: {error}")
        if not files:
            problems.append("no Python files")
        return not problems, problems, False

    def _ruff(self, *arguments: str) -> tuple[bool, list[str], bool]:
        ruff = _ruff_binary()
        if ruff is None:
            return False, ["ruff is not installed (looked beside the interpreter and on PATH)"], False
        return self._result([ruff, *arguments, "--no-cache", "."])

    def _check_format(self) -> tuple[bool, list[str], bool]:
        return self._ruff("format", "--check")

    def _check_lint(self) -> tuple[bool, list[str], bool]:
        return self._ruff("check", "--output-format", "concise")

    def _check_typecheck(self) -> tuple[bool, list[str], bool]:
        targets = [str(self.source / package) for package in self.packages]
        if self.tests.is_dir():
            targets.append(str(self.tests))
        if not targets:
            return False, ["nothing to type-check: no package under src"], False
        environment = self._environment()
        environment["MYPYPATH"] = str(self.source)
        # A fresh cache per run: mypy does not support concurrent runs sharing one, and validations run in parallel.
        with tempfile.TemporaryDirectory(prefix="escai-mypy-") as cache:
            command = [self.python, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", cache, *targets]
            passed, messages, timed_out = self._result(command, environment)
        if any("No module named mypy" in message for message in messages):
            return False, [f"mypy is not installed for {self.python}"], False
        return passed, messages, timed_out

    def _entry_points(self) -> dict[str, str]:
        pyproject = self.root / "pyproject.toml"
        if not pyproject.is_file():
            return {}
        with pyproject.open("rb") as handle:
            document = tomllib.load(handle)
        group = document.get("project", {}).get("entry-points", {}).get(_PLUGIN_GROUP, {})
        return {str(name): str(value) for name, value in group.items()}

    def _check_import(self) -> tuple[bool, list[str], bool]:
        if not self.packages:
            return False, ["no importable package (a directory with __init__.py) under src"], False
        try:
            entry_points = self._entry_points()
        except (tomllib.TOMLDecodeError, OSError) as error:
            return False, [f"pyproject.toml: {error}"], False
        command = [self.python, "-c", _IMPORT_PROBE, json.dumps(self.packages), json.dumps(entry_points)]
        return self._result(command)

    def _check_tests(self) -> tuple[bool, list[str], bool]:
        if not self.tests.is_dir():
            return False, ["no tests directory"], False
        environment = self._environment()
        if not self.pytest_plugin_autoload:
            environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        command = [self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", str(self.tests)]
        status, output = self._execute(command, environment)
        if status is None:
            return False, [output], True
        if status == 5:  # pytest's "no tests were collected"
            return False, ["pytest collected no tests"], False
        return status == 0, ([] if status == 0 else _lines(output)), False
