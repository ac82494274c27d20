"""The rules every way into the bank applies: insert, insert with the caller's vectors, and import.

One place, so an imported record cannot carry what ``insert`` would refuse (an importance of 1e308, an empty
or unencodable text, a vector of the wrong size or with a NaN, an id that is a path). Each check raises
:class:`memory.errors.MemoryUsageError` with one line naming where the bad value is, the value, and the fix; a
check runs before anything is written, so a refused batch leaves the bank as it was.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from memory.base import (
    MemoryRecord,
    MemoryStatus,
    MetaValue,
    content_hash,
    parse_kind,
    validate_namespace,
)
from memory.config import MemoryConfig
from memory.errors import MemoryUsageError
from memory.guard import ORIGINS, instruction_flag
from memory.tokens import count_tokens

MEMORY_ID = re.compile(r"^mem-[0-9a-f]{20}$")
"""What the bank's ids look like (``mem-`` + 20 hex digits): an imported id must too."""

_LIMIT = 2**63 - 1
"""The largest counter SQLite stores."""


def checked_text(text: object, where: str, config: MemoryConfig) -> tuple[str, int]:
    """The stripped text and its token count; refuses a non-string, empty, unencodable or too long text."""
    if isinstance(text, bytes):
        raise MemoryUsageError(f"{where}: memory text is bytes ({text[:20]!r}); decode it to a str first")
    if not isinstance(text, str):
        raise MemoryUsageError(f"{where}: memory text must be a string; got {type(text).__name__} {text!r:.40}")
    text = text.strip()
    if not text:
        raise MemoryUsageError(f"{where}: memory text is empty; give the text to remember")
    encodable(text, f"{where}: memory text")
    tokens = count_tokens(text, config.token_encoding)
    if tokens > config.max_text_tokens:
        raise MemoryUsageError(
            f"{where}: memory text has {tokens} tokens, over max_text_tokens={config.max_text_tokens}; "
            "split it, summarise it, or raise MemoryConfig.max_text_tokens"
        )
    return text, tokens


def encodable(text: str, what: str) -> str:
    """``text`` when it is valid Unicode (UTF-8 encodable); a lone surrogate such as ``\\ud800`` is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise MemoryUsageError(f"{what} holds {bad!r} at position {exc.start}, which is not valid Unicode; "
                               "remove it or decode the source with errors='replace'") from None  # fmt: skip
    return text


def note(value: object) -> str:
    """Free text for the history log (an actor or a reason): None is empty, anything else its string, and what is
    no valid Unicode escaped, so a note never stops the operation it explains."""
    text = "" if value is None else value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:2000]


def moment(value: object, what: str = "now") -> float | None:
    """None (the bank's clock) or a finite Unix time in seconds."""
    return None if value is None else finite(value, what)


def unit_number(value: object, what: str) -> float:
    """A finite number in 0..1 (importance)."""
    number = finite(value, what)
    if not 0.0 <= number <= 1.0:
        raise MemoryUsageError(f"{what} {value!r} is outside 0..1; give a number from 0 to 1")
    return number


def finite(value: object, what: str, *, low: float = -math.inf) -> float:
    """A finite float (not bool, not a string) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MemoryUsageError(f"{what} must be a number; got {value!r:.40}")
    number = float(value)
    if not math.isfinite(number) or number < low:
        limit = "" if low == -math.inf else f" of at least {low:g}"
        raise MemoryUsageError(f"{what} {value!r} is not a finite number{limit}; give one")
    return number


def counter(value: object, what: str, *, low: int = 0) -> int:
    """A whole number from ``low`` up to SQLite's largest integer (counters, votes, positions)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= _LIMIT:
        raise MemoryUsageError(f"{what} must be a whole number from {low} to {_LIMIT}; got {value!r:.40}")
    return value


def position(value: object, what: str) -> int | None:
    """None or a position in a thread: any whole number SQLite stores (``seq``)."""
    return None if value is None else counter(value, what, low=-_LIMIT)


def checked_meta(meta: object, where: str) -> dict[str, MetaValue]:
    """A dict of string keys to str, int, float or bool values (finite numbers, valid Unicode)."""
    if not isinstance(meta, Mapping):
        raise MemoryUsageError(f"{where}: meta must be an object of scalar values; got {type(meta).__name__}")
    out: dict[str, MetaValue] = {}
    for key, value in meta.items():
        if not isinstance(key, str):
            raise MemoryUsageError(f"{where}: meta key {key!r:.40} is not a string")
        if not isinstance(value, str | int | float | bool):
            raise MemoryUsageError(f"{where}: meta[{key!r:.40}] = {value!r:.40} is not a str, int, float or bool")
        if isinstance(value, float) and not math.isfinite(value):
            raise MemoryUsageError(f"{where}: meta[{key!r:.40}] = {value!r:.40} is not finite")
        out[encodable(key, f"{where}: meta key")] = encodable(value, f"{where}: meta[{key!r:.40}]") \
            if isinstance(value, str) else value  # fmt: skip
    return out


def id_list(value: object, what: str) -> tuple[str, ...]:
    """A list of strings (provenance ids); a bare string is refused, not split into letters."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise MemoryUsageError(f"{what} must be a list of id strings; got {value!r:.60}")
    return tuple(encodable(v, what) for v in value)


def marked(meta: dict[str, MetaValue], text: str, origin: object, where: str) -> dict[str, MetaValue]:
    """``meta`` with the text's origin (one of :data:`memory.guard.ORIGINS`, when given) and, when the text reads
    as an instruction to the model, ``flagged`` with the reason (:func:`memory.guard.instruction_flag`)."""
    if origin is not None:
        if origin not in ORIGINS:
            raise MemoryUsageError(f"{where}: origin {origin!r:.40} is not one of {', '.join(ORIGINS)}")
        meta = {**meta, "origin": str(origin)}
    if "flagged" not in meta and (why := instruction_flag(text)):
        meta = {**meta, "flagged": why}
    return meta


def file_path(value: object, what: str) -> Path:
    """A file path given as text or a path object, with no NUL and valid Unicode."""
    if not isinstance(value, str | PathLike) or isinstance(value, bytes):
        raise MemoryUsageError(f"{what} must be a file path (str or pathlib.Path); got {value!r:.40}")
    text = encodable(str(value), what)
    if not text.strip() or "\x00" in text:
        raise MemoryUsageError(f"{what} {text!r:.60} is not a usable file path; give the file's name")
    return Path(text)


def flag(value: object, what: str) -> bool:
    """A true/false value (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise MemoryUsageError(f"{what} must be true or false; got {value!r:.40}")
    return value


def optional_text(value: object, what: str) -> str | None:
    """None or a valid Unicode string (episode ids, threads)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MemoryUsageError(f"{what} must be a string or null; got {value!r:.40}")
    return encodable(value, what)


def checked_vectors(vectors: object, count: int, dimension: int, where: str) -> np.ndarray:
    """``count`` finite, non-zero float32 rows of ``dimension`` numbers (the bank's embedding size)."""
    try:
        with np.errstate(over="ignore"):  # a number beyond float32 becomes inf, refused below as not finite
            array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise MemoryUsageError(f"{where}: embeddings are not numbers ({str(exc)[:80]}); give lists of "
                               f"{dimension} numbers or leave them out to compute them") from None  # fmt: skip
    if array.shape != (count, dimension):
        got = "x".join(str(n) for n in array.shape) or "a scalar"
        raise MemoryUsageError(f"{where}: embeddings have shape {got}, expected {count}x{dimension} (the bank's "
                               "embedding size); give vectors from the bank's model or leave them out")  # fmt: skip
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1) | ~array.any(axis=1))
    if len(bad):
        raise MemoryUsageError(f"{where}: embedding {int(bad[0])} holds NaN, infinity or only zeros; "
                               "give a real vector or leave it out to compute it")  # fmt: skip
    return array


def bank_dimension(stored: int | None, embed: Callable[[list[str]], np.ndarray]) -> int:
    """The bank's embedding size: that of its stored vectors, else of what its embedder returns."""
    return stored if stored is not None else int(np.asarray(embed(["dimension"])).shape[-1])


def imported_record(data: object, where: str, config: MemoryConfig) -> tuple[MemoryRecord, int]:
    """A record of an export line, checked field by field with insert's rules, and its text's token count; its
    content hash is recomputed (a forged one cannot let a duplicate in)."""
    if not isinstance(data, Mapping):
        raise MemoryUsageError(f"{where}: record must be an object; got {type(data).__name__}")
    for key in ("id", "kind", "namespace", "text", "created_at"):
        if key not in data:
            raise MemoryUsageError(f"{where}: record has no {key!r}; export records with `evolve memory export`")
    mid = data["id"]
    if not isinstance(mid, str) or not MEMORY_ID.match(mid):
        raise MemoryUsageError(f"{where}: id {mid!r:.60} is not a memory id (mem- and 20 hex digits)")
    kind = parse_kind(data["kind"])
    namespace = validate_namespace(data["namespace"])
    text, tokens = checked_text(data["text"], where, config)
    created = finite(data["created_at"], f"{where}: created_at", low=0.0)
    status = data.get("status", "active")
    if not isinstance(status, str) or status not in {s.value for s in MemoryStatus}:
        raise MemoryUsageError(f"{where}: status {status!r:.40} is not one of active, superseded, archived")
    superseded_by = data.get("superseded_by")
    if superseded_by is not None and (not isinstance(superseded_by, str) or not MEMORY_ID.match(superseded_by)):
        raise MemoryUsageError(f"{where}: superseded_by {superseded_by!r:.60} is not a memory id")
    last = data.get("last_recalled_at")
    utility_count = counter(data.get("utility_count", 0), f"{where}: utility_count")
    utility_sum = finite(data.get("utility_sum", 0.0), f"{where}: utility_sum", low=0.0)
    if utility_sum > utility_count:
        raise MemoryUsageError(f"{where}: utility_sum {utility_sum:g} is more than utility_count {utility_count} "
                               "(each outcome is 0..1)")  # fmt: skip
    pinned = flag(data.get("pinned", False), f"{where}: pinned")
    derived = id_list(data.get("derived_from"), f"{where}: derived_from")
    if bad := next((d for d in derived if not MEMORY_ID.match(d)), None):
        raise MemoryUsageError(f"{where}: derived_from holds {bad!r:.60}, which is not a memory id")
    record = MemoryRecord(
        id=mid, kind=kind, namespace=namespace, text=text, created_at=created,
        updated_at=finite(data.get("updated_at", created), f"{where}: updated_at", low=0.0),
        context=encodable(_string(data.get("context") or "", f"{where}: context"), f"{where}: context"),
        importance=unit_number(data.get("importance", 0.5), f"{where}: importance"),
        strength=_strength(data.get("strength", config.base_strength_days), f"{where}: strength", config),
        recall_count=counter(data.get("recall_count", 0), f"{where}: recall_count"),
        last_recalled_at=None if last is None else finite(last, f"{where}: last_recalled_at", low=0.0),
        utility_sum=utility_sum, utility_count=utility_count,
        votes=counter(data.get("votes", 0), f"{where}: votes", low=-_LIMIT), pinned=pinned,
        status=MemoryStatus(status), superseded_by=superseded_by,
        source_ids=id_list(data.get("source_ids"), f"{where}: source_ids"), derived_from=derived,
        episode_id=optional_text(data.get("episode_id"), f"{where}: episode_id"),
        thread=optional_text(data.get("thread"), f"{where}: thread"),
        seq=position(data.get("seq"), f"{where}: seq"),
        meta=marked({k: v for k, v in checked_meta(data.get("meta") or {}, where).items() if k != "flagged"}, text,
                    "import", where),
        content_hash=content_hash(kind, namespace, text),
    )  # fmt: skip
    return record, tokens


def _strength(value: object, what: str, config: MemoryConfig) -> float:
    """A memory strength in days: positive and at most ``max_strength_days`` (what recall growth caps it at)."""
    days = finite(value, what, low=1e-9)
    if days > config.max_strength_days:
        raise MemoryUsageError(f"{what} {days:g} days is over max_strength_days={config.max_strength_days:g}; give "
                               "a smaller strength or raise MemoryConfig.max_strength_days")  # fmt: skip
    return days


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MemoryUsageError(f"{what} must be a string; got {value!r:.40}")
    return value
