"""Scopes: the (kind, namespace) pairs a bank holds, and the vector-store collection of each.

Collections: one per kind and namespace, named ``PREFIX-KIND-NAMESPACE`` with the namespace's ``:``
written as ``.`` (Chroma names allow ``[a-zA-Z0-9._-]``).

:class:`ScopeRegistry` is the one place that knows which scopes exist: retrieval asks it which
collections a query covers, writers tell it about new ones. With a Chroma server it also counts the
collections other machines made. With writers in other processes (``MemoryConfig.shared_writers``)
a query naming a scope it has not seen makes it look again, since another process may have made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memory.base import MemoryKind, kind_list, namespace_list, parse_kind, validate_namespace
from memory.errors import MemoryUsageError
from memory.ledger import Ledger
from memory.store import VectorStore

Scope = tuple[MemoryKind, str]


def collection_name(prefix: str, kind: MemoryKind, namespace: str) -> str:
    """Chroma collection of one kind in one namespace, e.g. ``evolve-insight-env.twx-twc``."""
    return f"{prefix}-{kind.value}-{namespace.replace(':', '.', 1)}"


def parse_collection_name(prefix: str, name: str) -> Scope | None:
    """Inverse of :func:`collection_name`; None for collections that are not ours."""
    if not name.startswith(prefix + "-"):
        return None
    kind_text, _, ns_text = name[len(prefix) + 1 :].partition("-")
    ns = ns_text.replace(".", ":", 1) if "." in ns_text else ns_text
    try:
        return parse_kind(kind_text), validate_namespace(ns)
    except MemoryUsageError:
        return None


@dataclass(frozen=True)
class CollectionNames:
    """The collection names of one bank (its ``collection_prefix``)."""

    prefix: str

    def of(self, kind: MemoryKind, namespace: str) -> str:
        """The collection holding one kind in one namespace."""
        return collection_name(self.prefix, kind, namespace)

    def parse(self, name: str) -> Scope | None:
        """The scope of a collection name; None for collections that are not this bank's."""
        return parse_collection_name(self.prefix, name)


class ScopeRegistry:
    """The scopes a bank holds: read from the ledger (and a shared server's collections), grown by inserts."""

    def __init__(self, ledger: Ledger, store: VectorStore, names: CollectionNames, *, from_server: bool,
                 refresh_on_unknown: bool) -> None:  # fmt: skip
        """An empty registry; call :meth:`refresh` to fill it.

        Args:
            ledger: the bank's ledger (its memories' kinds and namespaces).
            store: the vector store (its collections count too when ``from_server``).
            names: the bank's collection names.
            from_server: the store is a server other machines may have written to.
            refresh_on_unknown: look again when a query names a scope not seen yet (other writers).
        """
        self.ledger = ledger
        self.store = store
        self.names = names
        self.from_server = from_server
        self.refresh_on_unknown = refresh_on_unknown
        self._scopes: set[Scope] = set()

    def known(self) -> frozenset[Scope]:
        """The scopes seen so far."""
        return frozenset(self._scopes)

    def add(self, scopes: Iterable[Scope]) -> None:
        """Count scopes this bank has just written to."""
        self._scopes.update(scopes)

    def refresh(self) -> None:
        """Add the scopes of the ledger's memories and, with a server, of its collections."""
        for kind, ns in self.ledger.query("SELECT DISTINCT kind, namespace FROM memories"):
            self._scopes.add((MemoryKind(kind), ns))
        if self.from_server:  # other machines may have made collections this ledger never saw
            for name in self.store.collections():
                scope = self.names.parse(name)
                if scope is not None:
                    self._scopes.add(scope)

    def resolve(self, kinds: Sequence[MemoryKind | str] | None, namespace: str | Sequence[str] | None) -> list[Scope]:
        """The (kind, namespace) collections a query covers; validates kinds and namespaces.

        With ``refresh_on_unknown`` the registry looks again first unless the query names one namespace,
        its kinds, and only scopes already seen.
        """
        kinds_in = list(MemoryKind) if kinds is None else kind_list(kinds)
        if self.refresh_on_unknown:
            named = kinds is not None and isinstance(namespace, str)
            if not named or not {(k, namespace) for k in kinds_in} <= self._scopes:
                self.refresh()
        if namespace is None:
            return sorted(s for s in self._scopes if s[0] in kinds_in)
        nss = namespace_list(namespace)
        return [(k, n) for k in kinds_in for n in nss if (k, n) in self._scopes]
