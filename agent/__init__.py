"""The self-evolving agent: ``core`` (a step and an episode), ``policies`` (memory deciding a step),
``learning`` (the evolution loop), ``bench``, ``chat``, ``evals``, ``ui`` and the ``cli``, over ``llm``."""

__version__ = "0.1.0"
