"""Benches: train once, then play every ablation and a random agent on the same held-out tasks, and report.

:mod:`agent.bench.runner` runs a bench (resumable, optionally with worker processes); :mod:`agent.bench.reports`
and :mod:`agent.bench.statistics` turn its episodes into results; :mod:`agent.bench.demo` is the small version
``make demo`` runs.
"""
