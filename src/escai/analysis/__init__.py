"""Analysis engines over stored events: epistemic, behaviour, causal, predict and explain (each behind a protocol)."""
