"""The vector-store layer: add / get / query / update / delete of embedded documents, on Chroma.

The store never embeds anything and never calls a model: callers pass vectors. :class:`ChromaStore`
runs either an embedded ``PersistentClient`` in a directory or an ``HttpClient`` against a Chroma
server (``chroma run --path DIR --host 127.0.0.1 --port P``), the choice for several processes or
machines. Collections use the cosine space; a query returns cosine *similarities* (higher is closer).

Several processes on one embedded directory: Chroma keeps each process's HNSW index in memory, so two
writers would overwrite each other's index files and vectors would become unfindable. ChromaStore therefore
serialises writes with an ``fcntl`` lock (:mod:`memory.dirlock`), bumps a generation token after each write, and
reopens its client whenever another process has written since it last looked. Reads take the lock shared. This
makes one directory safe for several processes on one machine; for real concurrency use a server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

import numpy as np

from memory.damage import damage_of, is_sqlite
from memory.dirlock import DirLock
from memory.errors import BankDamaged, StoreUnavailable

log = logging.getLogger(__name__)

Metadata = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class StoredItem:
    """One stored vector with its document and metadata."""

    id: str
    """The item's id."""
    document: str
    """The stored text."""
    metadata: Metadata
    """Scalar metadata."""
    embedding: np.ndarray | None = None
    """The unit vector, when asked for."""


@dataclass(frozen=True)
class QueryHits:
    """Nearest neighbours of one query vector, best first."""

    ids: list[str]
    """Ids, most similar first."""
    similarities: np.ndarray
    """Cosine similarity per id, -1..1; higher is closer."""
    embeddings: np.ndarray | None = None
    """The hits' vectors (rows aligned with ``ids``), when asked for."""


@runtime_checkable
class VectorStore(Protocol):
    """What the memory bank needs from a vector database: five operations on named collections."""

    def add(
        self,
        collection: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        """Insert or replace items (idempotent: adding an existing id overwrites it)."""
        ...

    def get(self, collection: str, ids: Sequence[str], include_embeddings: bool = False) -> list[StoredItem]:
        """The items with these ids that exist (missing ids are skipped)."""
        ...

    def query(self, collection: str, embedding: np.ndarray, n: int, include_embeddings: bool = False) -> QueryHits:
        """The ``n`` items nearest to ``embedding`` (cosine)."""
        ...

    def update(self, collection: str, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Merge new metadata into existing items."""
        ...

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove items (unknown ids are ignored)."""
        ...

    def collections(self) -> list[str]:
        """Names of the existing collections."""
        ...

    def count(self, collection: str) -> int:
        """Number of items in a collection (0 if it does not exist)."""
        ...

    def close(self) -> None:
        """Release the client; later calls raise :class:`StoreUnavailable`."""
        ...


def _is_connection_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None}
    text = str(exc)
    return bool(
        names & {"ConnectError", "ConnectTimeout", "ReadError", "RemoteProtocolError", "ConnectionError",
                 "ConnectionRefusedError", "ReadTimeout", "WriteError"}
        or "Could not connect to a Chroma server" in text
    )  # fmt: skip


class ChromaStore:
    """A :class:`VectorStore` on Chroma: embedded in a directory, or a server given by URL."""

    def __init__(self, path: Path | None = None, url: str | None = None, lock_timeout: float = 60.0) -> None:
        """Open the store.

        Args:
            path: directory of an embedded ``PersistentClient`` (created if missing).
            url: ``http(s)://host:port`` of a Chroma server; exclusive with ``path``.
            lock_timeout: seconds to wait for another process's write lock (embedded mode).

        Raises:
            StoreUnavailable: the server does not answer.
            ValueError: neither or both of ``path`` and ``url`` were given.
        """
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded Chroma) or url (Chroma server)")
        self.path = Path(path) if path is not None else None
        self.url = url
        self._closed = False
        self._collections: dict[str, Any] = {}
        self._lock: DirLock | None = None
        self._generation = ""
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock = DirLock(self.path, lock_timeout)
            self._generation = self._read_generation()
        self._client = self._connect()

    # -- connection -------------------------------------------------------------------------------------
    def describe(self) -> str:
        """Where the store lives, for messages."""
        return f"Chroma server {self.url}" if self.url else f"embedded Chroma in {self.path}"

    def _start_hint(self) -> str:
        if self.url:
            parsed = urlparse(self.url)
            return f"start one with: chroma run --path DIR --host {parsed.hostname} --port {parsed.port or 8000}"
        return "open a new MemoryBank"

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if self.path is not None:
            index = self.path / "chroma.sqlite3"
            if index.is_file() and index.stat().st_size and not is_sqlite(index):
                raise self._damaged(ValueError(f"{index.name} is not a SQLite database"))
            try:
                return chromadb.PersistentClient(path=str(self.path), settings=settings)
            except Exception as exc:
                if (damage := damage_of(exc)) is not None:
                    raise self._damaged(damage) from None
                raise
        assert self.url is not None
        parsed = urlparse(self.url)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"no Chroma server answers at {self.url} ({exc}); {self._start_hint()}") from exc
        return client

    def _read_generation(self) -> str:
        assert self.path is not None
        try:
            return (self.path / ".evolve-generation").read_text()
        except FileNotFoundError:
            return ""

    def _bump_generation(self) -> None:
        assert self.path is not None
        token = uuid.uuid4().hex
        tmp = self.path / f".evolve-generation.{os.getpid()}.tmp"
        tmp.write_text(token)
        os.replace(tmp, self.path / ".evolve-generation")
        self._generation = token

    def _refresh_if_stale(self) -> None:
        """Reopen the embedded client when another process wrote since we last did (its index is stale)."""
        if self.path is None:
            return
        current = self._read_generation()
        if current != self._generation:
            log.debug("another process wrote to %s: reopening the Chroma client", self.path)
            with contextlib.suppress(Exception):
                self._client.close()
            self._collections.clear()
            self._client = self._connect()
            self._generation = current

    @contextlib.contextmanager
    def _op(self, write: bool) -> Iterator[None]:
        if self._closed:
            raise StoreUnavailable(f"the {self.describe()} store was closed; {self._start_hint()}")
        lock = self._lock.hold(exclusive=write) if self._lock is not None else contextlib.nullcontext()
        try:
            with lock:
                self._refresh_if_stale()
                try:
                    yield
                finally:  # even a failed write may have changed the index: others must reload
                    if write and self.path is not None:
                        self._bump_generation()
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self.path is not None and (damage := damage_of(exc)) is not None:
                raise self._damaged(damage) from exc
            if _is_connection_error(exc):
                raise StoreUnavailable(f"lost the {self.describe()} ({exc}); {self._start_hint()}") from exc
            raise

    def _damaged(self, exc: BaseException) -> BankDamaged:
        return BankDamaged(f"the vector index in {self.path} cannot be read ({exc}); move that directory aside and "
                           "open the bank again: the index is rebuilt from the ledger, which keeps every vector")

    def _collection(self, name: str, create: bool) -> Any:
        col = self._collections.get(name)
        if col is not None:
            return col
        from memory.embeddings import ChromaEmbeddingFunction

        ef = ChromaEmbeddingFunction()  # recorded in the collection config; never called by the store
        if create:
            col = self._client.get_or_create_collection(
                name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=ef
            )
        else:
            try:
                col = self._client.get_collection(name, embedding_function=ef)
            except Exception as exc:
                if "does not exist" in str(exc) or type(exc).__name__ == "NotFoundError":
                    return None
                raise
        self._collections[name] = col
        return col

    # -- the five operations ------------------------------------------------------------------------------
    def add(
        self,
        collection: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        """Insert or replace items, in batches of the client's maximum size."""
        if len(ids) == 0:
            return
        vectors = np.asarray(embeddings, dtype=np.float32)
        with self._op(write=True):
            col = self._collection(collection, create=True)
            step = max(1, min(5000, int(self._client.get_max_batch_size())))
            for i in range(0, len(ids), step):
                col.upsert(
                    ids=list(ids[i : i + step]),
                    embeddings=vectors[i : i + step],
                    documents=list(documents[i : i + step]),
                    metadatas=[dict(m) or {"_": 0} for m in metadatas[i : i + step]],
                )

    def get(self, collection: str, ids: Sequence[str], include_embeddings: bool = False) -> list[StoredItem]:
        """Items that exist among ``ids`` (order of the store)."""
        if len(ids) == 0:
            return []
        include = ["documents", "metadatas"] + (["embeddings"] if include_embeddings else [])
        with self._op(write=False):
            col = self._collection(collection, create=False)
            if col is None:
                return []
            res = col.get(ids=list(ids), include=include)
        embs = res.get("embeddings") if include_embeddings else None
        out = []
        for i, item_id in enumerate(res["ids"]):
            emb = None if embs is None else np.asarray(embs[i], dtype=np.float32)
            out.append(StoredItem(item_id, (res["documents"] or [""])[i] or "", dict(res["metadatas"][i] or {}), emb))
        return out

    def query(self, collection: str, embedding: np.ndarray, n: int, include_embeddings: bool = False) -> QueryHits:
        """Nearest neighbours by cosine similarity."""
        include = ["distances"] + (["embeddings"] if include_embeddings else [])
        with self._op(write=False):
            col = self._collection(collection, create=False)
            if col is None or n <= 0:
                return QueryHits([], np.zeros(0))
            res = col.query(
                query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
                n_results=n,
                include=include,
            )
        ids = list(res["ids"][0])
        sims = 1.0 - np.asarray(res["distances"][0], dtype=np.float64) if ids else np.zeros(0)
        embs = None
        if include_embeddings and res.get("embeddings") is not None:
            embs = np.asarray(res["embeddings"][0], dtype=np.float32).reshape(len(ids), -1)
        return QueryHits(ids, sims, embs)

    def update(self, collection: str, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        """Merge metadata into existing items (unknown ids are an error of Chroma's, logged and skipped)."""
        if len(ids) == 0:
            return
        with self._op(write=True):
            col = self._collection(collection, create=False)
            if col is None:
                return
            step = max(1, min(5000, int(self._client.get_max_batch_size())))
            for i in range(0, len(ids), step):
                col.update(ids=list(ids[i : i + step]), metadatas=list(metadatas[i : i + step]))

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove items by id."""
        if len(ids) == 0:
            return
        with self._op(write=True):
            col = self._collection(collection, create=False)
            if col is None:
                return
            step = max(1, min(5000, int(self._client.get_max_batch_size())))
            for i in range(0, len(ids), step):
                col.delete(ids=list(ids[i : i + step]))

    # -- housekeeping ---------------------------------------------------------------------------------
    def collections(self) -> list[str]:
        """Names of every collection in the database."""
        with self._op(write=False):
            return sorted(c.name for c in self._client.list_collections())

    def count(self, collection: str) -> int:
        """Items in a collection (0 when it does not exist)."""
        with self._op(write=False):
            col = self._collection(collection, create=False)
            return 0 if col is None else int(col.count())

    def ids(self, collection: str, page: int = 5000) -> list[str]:
        """Every id in a collection (empty when it does not exist), read in pages."""
        out: list[str] = []
        with self._op(write=False):
            col = self._collection(collection, create=False)
            while col is not None:
                got = col.get(include=[], limit=page, offset=len(out))["ids"]
                out.extend(got)
                if len(got) < page:
                    break
        return out

    def drop(self, collection: str) -> None:
        """Delete a whole collection (used by rollback and tests)."""
        with self._op(write=True):
            self._collections.pop(collection, None)
            with contextlib.suppress(Exception):
                self._client.delete_collection(collection)

    def raw_collection(self, name: str) -> Any:
        """The underlying Chroma collection (benchmarks compare against it)."""
        with self._op(write=False):
            return self._collection(name, create=False)

    def close(self) -> None:
        """Release the client; later calls raise :class:`StoreUnavailable`. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._collections.clear()
        with contextlib.suppress(Exception):
            self._client.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed
