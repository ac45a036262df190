"""Purity of Compute nodes: I/O, clock, randomness and global writes are refused; nondeterminism is caught."""

from __future__ import annotations

import itertools

import pytest
from pydantic import BaseModel

from escai.nodes import ComputeNode, PurityError, find_impurities_in_source

_COUNTER = itertools.count()


class Text(BaseModel):
    text: str


class Length(BaseModel):
    length: int


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("print(data)", "calls print()"),
        ("open('x').read()", "calls open()"),
        ("requests.get('http://x')", "uses requests.get"),
        ("httpx.post('http://x')", "uses httpx.post"),
        ("time.time()", "uses time.time"),
        ("random.random()", "uses random.random"),
        ("os.environ['HOME']", "uses os.environ"),
        ("subprocess.run(['ls'])", "uses subprocess.run"),
        ("datetime.datetime.now()", "reads the clock"),
        ("Path('x').read_text()", "file I/O"),
        ("self.context.bus", "uses self.context.bus"),
    ],
)
def test_static_check_reports_io_and_nondeterminism(body: str, expected: str) -> None:
    """Each impure construct in a method body is reported with what it does."""
    source = f"def compute(self, data):\n    value = {body}\n    return value\n"
    findings = find_impurities_in_source(source, "Node.compute")
    assert any(expected in finding for finding in findings), findings


def test_static_check_reports_global_writes_and_imports() -> None:
    """global/nonlocal statements and imports of I/O modules are reported with their line."""
    source = "def compute(self, data):\n    global seen\n    import socket\n    return data\n"
    findings = find_impurities_in_source(source, "Node.compute")
    assert findings == ["Node.compute line 2: writes global seen", "Node.compute line 3: imports socket"]


def test_pure_code_has_no_findings() -> None:
    """Arithmetic, comprehensions and os.path string handling are pure."""
    source = "def compute(self, data):\n    parts = os.path.join('a', data.text)\n    return len([c for c in parts])\n"
    assert find_impurities_in_source(source) == []


def test_impure_compute_class_is_refused_at_definition() -> None:
    """A Compute node that prints is refused when its class is defined."""
    with pytest.raises(PurityError, match=r"Loud.compute line \d+: calls print\(\)"):

        class Loud(ComputeNode[Text, Length, BaseModel]):
            input_model = Text
            output_model = Length

            def compute(self, data: Text) -> Length:
                print(data.text)
                return Length(length=len(data.text))


def test_helper_methods_are_checked_too() -> None:
    """I/O hidden in a helper method of the class is found as well."""
    with pytest.raises(PurityError, match="_load"):

        class Sneaky(ComputeNode[Text, Length, BaseModel]):
            input_model = Text
            output_model = Length

            def compute(self, data: Text) -> Length:
                return Length(length=self._load())

            def _load(self) -> int:
                with open("/etc/hostname") as handle:
                    return len(handle.read())


async def test_nondeterminism_is_caught_by_running_twice() -> None:
    """Under the validation mixin, a node whose output changes between runs raises PurityError."""

    class Drifting(ComputeNode[Text, Length, BaseModel]):
        input_model = Text
        output_model = Length
        mixins = ("validation",)

        def compute(self, data: Text) -> Length:
            return Length(length=len(data.text) + next(_COUNTER))

    with pytest.raises(PurityError, match="not deterministic"):
        await Drifting().run({"text": "abc"})


async def test_deterministic_compute_passes_the_double_run() -> None:
    """A pure node gives its output under the validation mixin."""

    class Measure(ComputeNode[Text, Length, BaseModel]):
        input_model = Text
        output_model = Length
        mixins = ("validation",)

        def compute(self, data: Text) -> Length:
            return Length(length=len(data.text))

    assert await Measure().run({"text": "abcd"}) == Length(length=4)
