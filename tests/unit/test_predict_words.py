"""The ``words`` feature group and the ``words`` member: what is counted, how it is learned, where it is kept out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from tests.unit.predict_events import end_event, make_event

from escai.analysis.predict.dataset import outcome_run
from escai.analysis.predict.drift import DriftReference, check_drift
from escai.analysis.predict.feature_words import (
    WORD_BUCKETS,
    WORD_PREFIX,
    bucket_of,
    voiced_tokens,
    word_columns,
)
from escai.analysis.predict.features import FeatureExtractor
from escai.analysis.predict.models import SuccessClassifier
from escai.analysis.predict.predictor import Predictor
from escai.analysis.predict.training import train_models
from escai.analysis.predict.word_model import WordsModel
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType


def run_events(session: str, task: str, success: bool, filler: int) -> list[AgentEvent]:
    """A run whose agent ends with words that go with its outcome; ``filler`` neutral steps vary the length.

    The closing words are in no cue list of the other groups and have the same length, so only the bag sees them.
    """
    closing = "Closing with kestrel marmalade." if success else "Closing with pelican porridges."
    events = [make_event(0, EventType.SESSION_START, session=session, attributes={semconv.ESCAI_TASK: task})]
    for index in range(1, filler + 1):
        events.append(
            make_event(index, EventType.THOUGHT, session=session, content=f"Looking at step {index} of the plan.")
        )
    events += [
        make_event(filler + 1, EventType.TOOL_CALL, session=session, name="search", content="query flights"),
        make_event(
            filler + 2,
            EventType.TOOL_RESULT,
            session=session,
            name="search",
            content="kestrel pelican",
            status=EventStatus.OK,
        ),
        make_event(
            filler + 3, EventType.MESSAGE, session=session, content=closing, attributes={"message.role": "assistant"}
        ),
        end_event(filler + 4, success, session=session),
    ]
    return events


def synthetic_runs(count: int = 80) -> list[Any]:
    """Runs of ``count // 2`` tasks (two trials each), half of them successful, lengths unrelated to outcome."""
    generator = np.random.default_rng(0)
    runs = []
    for index in range(count):
        success = bool(generator.random() < 0.5)
        events = run_events(f"s{index}", f"task number {index // 2}", success, int(generator.integers(1, 6)))
        runs.append(outcome_run(f"s{index}", events, success))
    return runs


def test_tokens_are_whole_words_and_neighbouring_pairs_of_one_voice() -> None:
    """Identifiers with digits never become tokens; pairs join neighbouring words; the voice prefixes each."""
    tokens = voiced_tokens("c", "get_user_details user_id mia_li_3668 HAT123 Flight")
    assert tokens[:3] == ["c:get_user_details", "c:user_id", "c:flight"]
    assert "c:user_id flight" in tokens
    assert not any(any(character.isdigit() for character in token) for token in tokens)
    assert all(0 <= bucket_of(token) < WORD_BUCKETS for token in tokens)


def test_the_bag_counts_agent_text_and_calls_but_not_tool_output_or_the_other_party() -> None:
    """Words of tool output and of the user's messages leave every bucket at zero; the agent's words count."""
    extractor = FeatureExtractor(("words",))
    quiet = [
        make_event(0, EventType.SESSION_START, session="q", attributes={semconv.ESCAI_TASK: "anything"}),
        make_event(
            1,
            EventType.TOOL_RESULT,
            session="q",
            name="search",
            content="plenty of output words",
            status=EventStatus.OK,
        ),
        make_event(
            2, EventType.MESSAGE, session="q", content="the user talks here", attributes={"message.role": "user"}
        ),
    ]
    assert not extractor.extract(quiet).any()
    spoken = [*quiet, make_event(3, EventType.THOUGHT, session="q", content="sorry sorry")]
    row = dict(zip(extractor.names, extractor.extract(spoken), strict=True))
    assert row[f"{WORD_PREFIX}{bucket_of('a:sorry'):04d}"] >= 2
    assert sum(row.values()) == 3  # two words and one pair


def test_the_words_member_learns_outcome_words_and_survives_a_round_trip() -> None:
    """Held-out runs are ranked by the words that go with success, and the saved model scores the same."""
    runs = synthetic_runs()
    extractor = FeatureExtractor(("words",))
    matrix = np.vstack([extractor.extract(run.events) for run in runs])
    labels = np.array([float(run.success) for run in runs])
    model = WordsModel()
    model.fit(matrix[:60], labels[:60])
    assert roc_auc_score(labels[60:], model.score(matrix[60:])) == 1.0
    contributions = model.contributions(matrix[60:])
    assert np.allclose(contributions.sum(axis=1) + model.intercept, model.score(matrix[60:]))
    restored = WordsModel.from_dict(model.to_dict())
    assert np.allclose(restored.score(matrix), model.score(matrix))


def test_the_classifier_keeps_word_columns_out_of_the_dense_members() -> None:
    """Dense members screen only non-word columns; the words member reads the bag; without a bag it is dropped."""
    runs = synthetic_runs()
    extractor = FeatureExtractor(("events", "words"))
    matrix = np.vstack([extractor.extract(run.events) for run in runs])
    labels = np.array([float(run.success) for run in runs])
    groups = [run.group for run in runs]
    words = word_columns(extractor.names)
    classifier = SuccessClassifier(word_columns=words).fit(matrix, labels, groups)
    assert [model.name for model in classifier.members] == ["lightgbm", "logistic", "words"]
    assert not set(classifier.selected) & set(words)
    restored = SuccessClassifier.from_dict(classifier.to_dict())
    assert np.allclose(restored.predict_proba(matrix), classifier.predict_proba(matrix))
    dense_only = SuccessClassifier().fit(matrix[:, : words[0]], labels, groups)
    assert [model.name for model in dense_only.members] == ["lightgbm", "logistic"]


def test_trained_models_leave_the_bag_out_of_drift_and_explain_word_drivers() -> None:
    """The drift reference holds no word bucket yet reads the right columns; a word driver quotes its words."""
    runs = synthetic_runs()
    models = train_models(runs)
    names = {feature.name for feature in models.reference.features}
    assert names and not any(name.startswith(WORD_PREFIX) for name in names)
    extractor = models.extractor()
    incoming = np.vstack([extractor.extract(run.events) for run in runs])
    assert not check_drift(models.reference, incoming).drifted
    restored = DriftReference.from_dict(models.reference.to_dict())
    assert check_drift(restored, incoming).psi == check_drift(models.reference, incoming).psi
    failed = next(run for run in runs if not run.success)
    result = Predictor(models).predict_detailed(list(failed.events), drivers=40)
    quoted = [driver.description for driver in result.drivers if driver.feature.startswith(WORD_PREFIX)]
    assert quoted and any("'pelican" in text or "'porridges" in text for text in quoted)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75])
def test_live_and_batch_word_rows_agree(fraction: float) -> None:
    """The running bag after a prefix equals the batch row of that prefix."""
    run = synthetic_runs(4)[0]
    extractor = FeatureExtractor(("words",))
    steps = [item for item in run.events if item.type not in (EventType.SESSION_START, EventType.SESSION_END)]
    cut = max(1, int(len(steps) * fraction))
    running = extractor.start()
    for item in run.events[: cut + 1]:
        running.update(item)
    assert np.array_equal(running.vector(), extractor.extract_at(run.events, [cut])[0])
