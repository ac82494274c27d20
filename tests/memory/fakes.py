"""A scripted, strict :class:`memory.reflect.JsonLLM` double for unit tests of reflection.

It replays a list of replies (a dict, an exception to raise, or a function of the messages), records
every prompt it saw, and raises :class:`tests.fakes.ScriptExhausted` (a ``BaseException`` that reflect's
error handling cannot swallow) when the script runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes import ScriptExhausted

ScriptedReply = dict[str, Any] | BaseException | Callable[[list[dict[str, str]]], dict[str, Any]]


class BadOutput(ValueError):
    """What a real adapter raises when the model's text does not parse; carries the raw text."""

    def __init__(self, raw: str) -> None:
        super().__init__("model output is not valid JSON")
        self.raw = raw


class ScriptedJsonLLM:
    """Replays ``replies`` in order; ``calls`` holds (messages, schema) of every call."""

    def __init__(self, replies: list[ScriptedReply]) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[dict[str, str]], dict[str, Any]]] = []

    def __call__(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((messages, schema))
        if not self.replies:
            raise ScriptExhausted(f"the script ran out at call {len(self.calls)}: {messages[-1]['content'][:200]}")
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply(messages)
        return reply

    @property
    def prompts(self) -> list[str]:
        """The user message of every call."""
        return [m[-1]["content"] for m, _ in self.calls]


def hash_embed(texts: list[str]) -> Any:
    """A deterministic stand-in embedder (unit vectors seeded by the text): no model, cheap in subprocesses."""
    import hashlib

    import numpy as np

    rows = []
    for t in texts:
        seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).normal(size=384).astype(np.float32)
        rows.append(v / np.linalg.norm(v))
    return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)
