"""Behavioural analyser: sequences, frequent patterns, anomalies, loops and behaviour clusters.

``session_features`` and ``step_features`` are public for other engines (the performance predictor reuses them).
"""

from escai.analysis.behaviour.analyser import BehaviourAnalyser, BehaviourConfig, BehaviourReport, LabelledSession
from escai.analysis.behaviour.features import session_features, step_features

__all__ = [
    "BehaviourAnalyser",
    "BehaviourConfig",
    "BehaviourReport",
    "LabelledSession",
    "session_features",
    "step_features",
]
