"""Embeddings and tiktoken work with the network unreachable (every non-loopback connect refused)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import socket
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from memory.tokens import count_tokens
    import tiktoken
    assert count_tokens("hello world") == 2
    assert count_tokens("hello world", "o200k_base") == 2
    assert tiktoken.encoding_for_model("gpt-4o").name == "o200k_base"
    assert tiktoken.get_encoding("cl100k_base").decode([15339]) == "hello"

    from memory.embeddings import Embedder, LangChainEmbeddings
    vectors = Embedder().embed(["a cat", "a kitten", "income tax"])
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert len(LangChainEmbeddings().embed_query("hi")) == 384
    print("OFFLINE-OK")
    """
)


def test_embeddings_and_tiktoken_work_offline(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TIKTOKEN_CACHE_DIR": str(tmp_path / "tk"),
           "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert "OFFLINE-OK" in result.stdout, result.stderr[-3000:]
    assert len(list((tmp_path / "tk").iterdir())) == 2  # both vocabularies were rebuilt from quicktok
