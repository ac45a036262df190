"""Text similarity for the analysis engines: one embedder interface, MiniLM when installed, a light fallback."""

from escai.analysis.text.embedding import (
    HashingEmbedder,
    MiniLmEmbedder,
    TextEmbedder,
    cosine_similarity,
    load_embedder,
)

__all__ = ["HashingEmbedder", "MiniLmEmbedder", "TextEmbedder", "cosine_similarity", "load_embedder"]
