"""Ingestion: validate, normalise, enrich, filter and batch events into storage."""
