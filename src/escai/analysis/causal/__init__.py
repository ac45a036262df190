"""Causal engine: event dependency graphs, causal discovery across sessions, and failure attribution."""
