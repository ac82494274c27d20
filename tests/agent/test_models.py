"""Assembling a GGUF from part packages: success, missing parts, corrupt files (small fake parts)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import ComponentError
from agent.llm.models import LocalModelSpec, ensure_model, verify

CONTENT = [b"GGUF" + bytes(range(60)), b"second part" * 10, b"third"]


@pytest.fixture()
def spec(tmp_path: Path) -> Iterator[LocalModelSpec]:
    """Three importable fake part modules, each with get_part_path(), and the spec assembling them."""
    pkg_root = tmp_path / "site"
    names = []
    for i, blob in enumerate(CONTENT, start=1):
        name = f"fakepart_{os.getpid()}_{i}"
        (pkg_root / name / "data").mkdir(parents=True)
        (pkg_root / name / "data" / "part.bin").write_bytes(blob)
        (pkg_root / name / "__init__.py").write_text(
            "import os\ndef get_part_path():\n"
            "    return os.path.join(os.path.dirname(__file__), 'data', 'part.bin')\n"
        )
        names.append(name)
    sys.path.insert(0, str(pkg_root))
    whole = b"".join(CONTENT)
    yield LocalModelSpec(
        name="fake", description="fake model", filename="fake.gguf", part_modules=tuple(names),
        part_packages=tuple(f"{n}==1" for n in names), size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
    )  # fmt: skip
    sys.path.remove(str(pkg_root))
    for name in names:
        sys.modules.pop(name, None)


def test_assembles_once_and_reuses(spec: LocalModelSpec, tmp_path: Path) -> None:
    path = ensure_model(spec, tmp_path / "cache")
    assert path.read_bytes() == b"".join(CONTENT)
    mtime = path.stat().st_mtime_ns
    assert ensure_model(spec, tmp_path / "cache") == path
    assert path.stat().st_mtime_ns == mtime  # not rebuilt
    assert not list((tmp_path / "cache").glob("*.part-*")), "temporary file left behind"


def test_missing_part_names_the_package(spec: LocalModelSpec, tmp_path: Path) -> None:
    broken = LocalModelSpec(**{**spec.__dict__, "part_modules": (*spec.part_modules, "no_such_part_mod"),
                               "part_packages": (*spec.part_packages, "no-such-part==9")})  # fmt: skip
    with pytest.raises(ComponentError) as info:
        ensure_model(broken, tmp_path / "cache")
    assert "no-such-part==9" in str(info.value)
    assert "requirements-models.txt" in info.value.fix


def test_wrong_parts_do_not_leave_a_model(spec: LocalModelSpec, tmp_path: Path) -> None:
    wrong = LocalModelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    with pytest.raises(ComponentError, match="damaged or of another version"):
        ensure_model(wrong, tmp_path / "cache")
    assert not (tmp_path / "cache" / spec.filename).exists()


def test_truncated_file_is_detected(spec: LocalModelSpec, tmp_path: Path) -> None:
    path = ensure_model(spec, tmp_path / "cache")
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ComponentError, match="truncated or corrupt") as info:
        ensure_model(spec, tmp_path / "cache")
    assert f"rm {path}" in info.value.fix


def test_same_size_corruption_is_detected(spec: LocalModelSpec, tmp_path: Path) -> None:
    path = ensure_model(spec, tmp_path / "cache")
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))  # new mtime: the verification marker no longer matches
    with pytest.raises(ComponentError, match="is corrupt: sha256"):
        verify(spec, path)


def test_full_verify_rehashes_even_with_marker(spec: LocalModelSpec, tmp_path: Path) -> None:
    path = ensure_model(spec, tmp_path / "cache")
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime as when verified
    verify(spec, path)  # trusted by the marker
    with pytest.raises(ComponentError):
        verify(spec, path, full=True)
