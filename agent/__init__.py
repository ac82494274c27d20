"""The self-evolving agent: LLM layer, actor, evolution loop, benchmark runner, chat and CLI."""

__version__ = "0.1.0"
