"""How the bank turns texts into vectors: the :data:`Embed` type and the embedder the bank's parts share.

The default model is loaded on first use, not when a bank opens, so a bank that only reads counters
or is given its vectors never loads it (and importing :mod:`memory` stays cheap).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Embed = Callable[[list[str]], np.ndarray]
"""Texts -> an (n, d) array of unit vectors, one row per text."""


class LazyEmbed:
    """An :data:`Embed` that calls the injected function, or the shared all-MiniLM-L6-v2 loaded on first use."""

    def __init__(self, embed: Embed | None = None) -> None:
        self._embed = embed

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Embed texts as float32 rows."""
        if self._embed is None:
            from memory.embeddings import Embedder

            self._embed = Embedder.shared().embed
        return np.asarray(self._embed(texts), dtype=np.float32)
