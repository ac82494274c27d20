"""The model probe: a real decode in a child process, and a crash there reported with its signal."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent.doctor import check_llm
from agent.errors import ComponentError
from agent.llm import LLMConfig
from agent.llm.config import default_cache_dir
from agent.llm.models import LOCAL_MODELS, ensure_model
from agent.llm.probe import ensure_decodes, probe


@pytest.fixture()
def crashing_llama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``llama_cpp`` package first on the child's path that dies of SIGSEGV on import, as a bad build does."""
    package = tmp_path / "shadow" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        import os, signal
        os.kill(os.getpid(), signal.SIGSEGV)
    """))
    monkeypatch.setenv("PYTHONPATH", str(package.parent))
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    return model


@pytest.mark.slow
def test_the_small_model_decodes_in_a_child_process() -> None:
    """A crash of llama.cpp here fails this test naming the signal, and the suite goes on."""
    model = ensure_model(LOCAL_MODELS["local-small"], default_cache_dir())
    result = probe(model, n_threads=2)
    assert result.signal is None, result.detail
    assert result.ok, result.detail
    assert result.answer.strip().startswith("4")


def test_a_crash_in_the_child_is_a_failure_naming_the_signal(crashing_llama: Path) -> None:
    result = probe(crashing_llama, timeout=60)
    assert not result.ok
    assert result.signal == "SIGSEGV"
    assert "died of SIGSEGV" in result.detail and "llama.cpp crashed" in result.detail
    assert "make reinstall-llama" in result.fix


def test_loading_a_model_that_would_crash_raises_instead(crashing_llama: Path) -> None:
    with pytest.raises(ComponentError) as raised:
        ensure_decodes(crashing_llama)
    assert "SIGSEGV" in raised.value.what and "make reinstall-llama" in raised.value.fix
    assert not crashing_llama.with_name("model.gguf.decodes").exists()  # a failed probe is not remembered


@pytest.mark.slow
def test_doctor_reports_a_crashing_model_as_a_failed_check(crashing_llama: Path) -> None:
    check = check_llm(LLMConfig(backend="local-small"))
    assert not check.ok
    assert "SIGSEGV" in check.detail
    assert "make reinstall-llama" in check.fix
