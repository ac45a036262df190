"""Lexical cues of certainty, hedging, retraction, completion and failure in an agent's own words.

The confidence of a belief is read from how the agent states it: certainty markers ("confirmed", "definitely",
"verified") raise it, hedges ("might", "I think", "it seems") lower it; this follows the hedge/booster lexicons of
Hyland (2005) that uncertainty-detection work (e.g. the CoNLL-2010 shared task) builds on. Lists are short and
general on purpose: they must hold for any agent framework and domain, so nothing here names a tool or a dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEDGES = (
    r"might|may|maybe|perhaps|possibly|possible|probably|likely|unlikely|seems?|seemed|appears?|appeared|"
    r"suggests?|i think|i believe|i guess|i suspect|not sure|unsure|unclear|uncertain|assum(?:e|ing|ption)|"
    r"guess|approximately|roughly|around|could be|should be|would be|if i recall|hopefully|hypothes[ie]s|"
    r"estimate[ds]?|potentially|presumably|apparently|not certain|hard to say|let'?s try|try to|attempt"
)
_BOOSTERS = (
    r"definitely|certainly|clearly|confirmed|confirms?|verified|verify that|indeed|undoubtedly|obviously|"
    r"exactly|precisely|correct|correctly|i am confident|i'm confident|successfully|works?\b|working|passed|"
    r"passes|is fixed|resolved|established|proven|always|must be|no doubt|for sure|accurate"
)
_RETRACTIONS = (
    r"i was wrong|my mistake|i made a mistake|apolog(?:y|ies|ize|ise)|that was (?:incorrect|wrong)|"
    r"this is (?:incorrect|wrong)|actually,|on second thought|correction:|i misunderstood|i misread|"
    r"that didn'?t work|did not work|doesn'?t work|does not work|not what i expected|turns out"
)
_COMPLETION = (
    r"\bterminate\b|task (?:is )?(?:complete|completed|done|finished|solved)|successfully (?:completed|fixed|"
    r"resolved|implemented)|the (?:final )?answer is|final answer|i have (?:fixed|resolved|completed|implemented)|"
    r"has been (?:fixed|resolved|completed)|all tests pass|tests pass|complete_task|submit(?:ted)?\b|"
    r"is request satisfied|request (?:is )?satisfied|we are done|that'?s all|\bapproved?\b|\blgtm\b"
)
_GIVING_UP = (
    r"give up|giving up|unable to (?:proceed|continue|complete|find|solve)|cannot (?:proceed|continue|complete)|"
    r"can'?t (?:proceed|continue|complete)|no way to|i am stuck|i'm stuck|not possible to|impossible to|"
    r"transfer(?:ring)? (?:you )?to a human|let'?s skip|abandon"
)
_FAILURE = (
    r"\berror\b|exception|traceback|failed|failure|fails|not found|no such file|permission denied|invalid|"
    r"cannot|can'?t|unable|timed? ?out|wrong|incorrect|missing|undefined|syntaxerror|not working|broken"
)
_NEGATION = r"\b(?:not|no|never|isn'?t|aren'?t|wasn'?t|weren'?t|doesn'?t|don'?t|didn'?t|cannot|can'?t|won'?t|none)\b"

HEDGE_RE = re.compile(rf"\b(?:{_HEDGES})\b", re.IGNORECASE)
BOOSTER_RE = re.compile(rf"\b(?:{_BOOSTERS})", re.IGNORECASE)
RETRACTION_RE = re.compile(rf"(?:{_RETRACTIONS})", re.IGNORECASE)
COMPLETION_RE = re.compile(rf"(?:{_COMPLETION})", re.IGNORECASE)
GIVING_UP_RE = re.compile(rf"(?:{_GIVING_UP})", re.IGNORECASE)
FAILURE_RE = re.compile(rf"(?:{_FAILURE})", re.IGNORECASE)
NEGATION_RE = re.compile(_NEGATION, re.IGNORECASE)

# A sentence ends at . ! ? or a line break; code blocks are removed before splitting.
_CODE_BLOCK_RE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n+")
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|#+|\*\*[^*]+\*\*:?)\s*")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")
_IMPERATIVE_START_RE = re.compile(
    r"^(?:please|let'?s|let me|now,? (?:i|let)|i will|i'll|i need to|i should|we need to|we should|next,?|then,?|"
    r"first,?|run|check|create|open|use|make|try|see|call|look|find|search|read|write|go|ask|provide|wait)\b",
    re.IGNORECASE,
)
_ASSERTION_VERB_RE = re.compile(
    r"\b(?:is|are|was|were|has|have|had|contains?|returns?|returned|shows?|showed|equals?|means|indicates?|"
    r"found|confirms?|confirmed|verified|exists?|works?|failed|fails|causes?|caused|requires?|needs?|"
    r"located|defined|uses?|should|[a-z]{3,}ed)\b",
    re.IGNORECASE,
)

MIN_BELIEF_WORDS = 4
MAX_BELIEF_WORDS = 45


@dataclass(frozen=True, slots=True)
class CueCounts:
    """How many certainty and hedging cues a text has, and what it signals."""

    hedges: int
    boosters: int
    retraction: bool
    completion: bool
    giving_up: bool
    failure_words: int
    words: int

    @property
    def certainty(self) -> float:
        """A confidence in [0.05, 0.95] read from the cues alone (0.6 when the text is neutral).

        Neutral statements sit a little above even odds because agents state what they found; each booster adds
        and each hedge removes a fixed amount, so two hedges outweigh one booster.
        """
        score = 0.6 + 0.1 * min(self.boosters, 3) - 0.12 * min(self.hedges, 4)
        if self.retraction:
            score -= 0.2
        if self.giving_up:
            score -= 0.2
        return min(0.95, max(0.05, score))

    @property
    def hedge_rate(self) -> float:
        """Hedges per 20 words, capped at 1: how tentative the text is overall."""
        if self.words == 0:
            return 0.0
        return min(1.0, 20.0 * self.hedges / self.words)


def count_cues(text: str) -> CueCounts:
    """Count the cues of one text."""
    return CueCounts(
        hedges=len(HEDGE_RE.findall(text)),
        boosters=len(BOOSTER_RE.findall(text)),
        retraction=RETRACTION_RE.search(text) is not None,
        completion=COMPLETION_RE.search(text) is not None,
        giving_up=GIVING_UP_RE.search(text) is not None,
        failure_words=len(FAILURE_RE.findall(text)),
        words=len(_WORD_RE.findall(text)),
    )


def strip_code(text: str) -> str:
    """The text without fenced code blocks (code is action, not assertion)."""
    return _CODE_BLOCK_RE.sub(" ", text)


def split_sentences(text: str) -> list[str]:
    """Sentences of prose, list markers removed, blank pieces dropped."""
    pieces = (_LIST_MARKER_RE.sub("", piece).strip() for piece in _SENTENCE_SPLIT_RE.split(text))
    return [piece for piece in pieces if piece]


def is_assertion(sentence: str) -> bool:
    """Whether a sentence states something about the world (not a question, an instruction or a fragment)."""
    words = _WORD_RE.findall(sentence)
    if not MIN_BELIEF_WORDS <= len(words) <= MAX_BELIEF_WORDS:
        return False
    if sentence.rstrip().endswith(("?", ":")):
        return False
    if _IMPERATIVE_START_RE.match(sentence):
        return False
    # Mostly symbols or code-like tokens: not prose.
    if len(" ".join(words)) < 0.5 * len(sentence):
        return False
    return _ASSERTION_VERB_RE.search(sentence) is not None


def is_negated(sentence: str) -> bool:
    """Whether a sentence carries a negation (used to tell a contradiction from a restatement)."""
    return NEGATION_RE.search(sentence) is not None
