"""Bridges from other tuning libraries to curvetune's algorithms.

``curvetune.integrations.optuna``: ``LCMPruner`` and ``MatchedHalvingPruner``, Optuna pruners
that decide with curvetune's stopping rules (needs ``pip install 'curvetune[optuna]'``).
Nothing is imported here: each bridge imports its library only when it is imported itself.
"""
