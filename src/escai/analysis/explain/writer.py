"""Who words the sentences: the templates as they are (default), or an OpenAI-compatible LLM that rephrases them.

The LLM only rewrites wording. It receives the template sentences and must return one sentence per input, in the
same order, as a JSON array of strings; each output keeps the claim and the citations of its input because the
writer, not the model, attaches them. A reply that is not such an array, has the wrong count, or arrives after the
timeout makes the writer fall back to the templates and log why. A rewritten sentence that states a number its
template did not contain is replaced by its template: the model may rephrase the evidence, never add to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from escai.model.records import ExplanationKind, ExplanationSentence
from escai.ops.logging import get_logger

TEMPLATE_GENERATOR = "template"

_log = get_logger(__name__, component="explain")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)

SYSTEM_PROMPT = (
    "You rewrite the sentences of an explanation of an AI agent's run into fluent, plain English prose. "
    "Rewrite each input sentence into exactly one output sentence, in the same order. Keep every number, name, "
    "step, tool, command and quotation exactly as given; add no fact, opinion or number that the input does not "
    "state; do not merge or split sentences. Reply with a JSON array of strings and nothing else."
)


@dataclass(frozen=True, slots=True)
class Wording:
    """Sentences as written, and what wrote them (``template`` or ``llm:<model>``)."""

    sentences: list[ExplanationSentence]
    generator: str


class SentenceWriter(Protocol):
    """Words an explanation's template sentences; each returned sentence keeps its input's claim and citations."""

    def write(self, sentences: Sequence[ExplanationSentence], kind: ExplanationKind) -> Wording:
        """The sentences reworded (the same number, in the same order)."""
        ...


class TemplateWriter:
    """The default writer: the template sentences unchanged."""

    def write(self, sentences: Sequence[ExplanationSentence], kind: ExplanationKind) -> Wording:
        """The template sentences as they are."""
        return Wording(list(sentences), TEMPLATE_GENERATOR)


class _Fallback(Exception):
    """The LLM's reply cannot be used; the message says why."""


def _numbers(text: str) -> set[float]:
    return {float(match) for match in _NUMBER.findall(text)}


def _reply_sentences(payload: Any, expected: int) -> list[str]:
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _Fallback("the reply has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise _Fallback("the reply's content is not text")
    stripped = content.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        sentences = json.loads(stripped)
    except ValueError:
        raise _Fallback("the reply is not a JSON array") from None
    if not isinstance(sentences, list) or not all(isinstance(item, str) and item.strip() for item in sentences):
        raise _Fallback("the reply is not a JSON array of non-empty strings")
    if len(sentences) != expected:
        raise _Fallback(f"the reply has {len(sentences)} sentences for {expected}")
    return [" ".join(item.split()) for item in sentences]


class OpenAICompatibleWriter:
    """Rephrases the template sentences with a chat model behind an OpenAI-compatible ``/chat/completions`` API.

    ``transport`` replaces the network (tests pass an ``httpx.MockTransport``). Calls are synchronous and bounded
    by ``timeout`` seconds; an async caller should run :meth:`write` in a worker thread.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, transport=transport, headers=headers)

    @property
    def generator(self) -> str:
        """The generator name stored on explanations this writer words."""
        return f"llm:{self.model}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _request(self, sentences: Sequence[ExplanationSentence], kind: ExplanationKind) -> list[str]:
        user = json.dumps({"explanation_kind": kind.value, "sentences": [item.text for item in sentences]})
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
        }
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            payload = response.json()
        except httpx.TimeoutException:
            raise _Fallback("the request timed out") from None
        except httpx.HTTPStatusError as error:
            raise _Fallback(f"the endpoint answered HTTP {error.response.status_code}") from None
        except httpx.HTTPError as error:
            raise _Fallback(f"the request failed: {type(error).__name__}: {error}") from None
        except ValueError:
            raise _Fallback("the reply is not JSON") from None
        return _reply_sentences(payload, len(sentences))

    def write(self, sentences: Sequence[ExplanationSentence], kind: ExplanationKind) -> Wording:
        """The sentences reworded by the model, or the templates (logged with the reason) when that fails."""
        if not sentences:
            return Wording([], TEMPLATE_GENERATOR)
        try:
            texts = self._request(sentences, kind)
        except _Fallback as reason:
            _log.warning("explanation LLM not used, templates kept", reason=str(reason), model=self.model)
            return Wording(list(sentences), TEMPLATE_GENERATOR)
        except Exception as error:  # any other failure must not lose the explanation: the templates still hold
            _log.warning(
                "explanation LLM not used, templates kept", reason=f"{type(error).__name__}: {error}", model=self.model
            )
            return Wording(list(sentences), TEMPLATE_GENERATOR)
        written = []
        accepted = 0
        for number, (sentence, text) in enumerate(zip(sentences, texts, strict=True), start=1):
            if _numbers(text) <= _numbers(sentence.text):
                written.append(sentence.model_copy(update={"text": text}))
                accepted += 1
            else:
                _log.warning(
                    "explanation LLM sentence replaced by its template",
                    reason="it states a number the template does not",
                    sentence=number,
                    model=self.model,
                )
                written.append(sentence)
        return Wording(written, self.generator if accepted else TEMPLATE_GENERATOR)


def writer_from_settings(
    base_url: str | None, model: str | None, api_key: str | SecretStr | None = None, timeout: float = 10.0
) -> SentenceWriter:
    """The LLM writer when both an endpoint and a model are configured, else the template writer."""
    if not base_url or not model:
        return TemplateWriter()
    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return OpenAICompatibleWriter(base_url, model, api_key=key or None, timeout=timeout)
