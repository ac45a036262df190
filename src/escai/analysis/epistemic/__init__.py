"""Epistemic extractor: beliefs, knowledge, goals and confidence per step, live and in batch."""
