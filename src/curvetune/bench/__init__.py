"""Benchmarks of early-stopping rules on recorded learning curves.

A curve table (``tables``) is replayed by an objective (``replay``) through the real
controller, on a simulated executor whose virtual clock advances by the table's epoch times,
so a whole study over 200 configurations takes a fraction of a second (``simulate``).
"""
