"""Options shared by the ``evolve`` commands, and the one place the environment is read (``OPENAI_API_KEY``)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr

from agent.errors import UsageError
from agent.llm.config import BackendChoice, LLMConfig

if TYPE_CHECKING:  # the heavy imports wait until a command runs, so `evolve --help` stays quick
    from langchain_core.language_models.chat_models import BaseChatModel

    from agent.bench.seeds import Purpose

LlmOpt = Annotated[BackendChoice, typer.Option("--llm", help="LLM backend.")]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
]
ModelOpt = Annotated[str, typer.Option("--model", help="Model name for the openai backend.")]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=1, help="CPU threads of the local model.")]
CtxOpt = Annotated[int, typer.Option("--ctx", min=256, help="Context window of the local model.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
GateOpt = Annotated[
    bool,
    typer.Option("--gate/--no-gate", help="Rules reflection writes wait as candidates until a paired trial on "
                 "training tasks shows they do not hurt (costs episodes; the results report how many)."),
]  # fmt: skip
RecallsOpt = Annotated[
    int,
    typer.Option("--recalls", min=0, help="Memory retrievals an episode may add when a step brings new things "
                 "into view (0: once, before the first step)."),
]  # fmt: skip

FamiliesOpt = Annotated[
    str,
    typer.Option("--families", help="Family plug-ins on: textworld (its grammar's rules), or none (only what every "
                 "environment gives: memory values offered actions from facts of alike states)."),
]  # fmt: skip


def comma_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``: the names of a comma-separated option."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def parse_families(text: str) -> tuple[str, ...]:
    """``"textworld"`` → ``("textworld",)``, ``"none"`` → ``()``; an unknown name is a usage error naming the
    choices."""
    names = comma_list(text)
    if names == ("none",):
        return ()
    unknown = [n for n in names if n != "textworld"]
    if unknown or not names:
        raise UsageError(f"--families {text!r}: use textworld or none")
    return tuple(dict.fromkeys(names))


def parse_held_out(text: str) -> Purpose:
    """``--held-out``: one of the seed ranges' purposes (:data:`agent.bench.seeds.PURPOSES`), else a usage error
    naming them."""
    from agent.bench.seeds import PURPOSES

    for purpose in PURPOSES:
        if text == purpose:
            return purpose
    raise UsageError(f"--held-out {text!r}: use one of {', '.join(PURPOSES)}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, a service manager) raises KeyboardInterrupt as Ctrl-C does, so what
    the command holds (a memory bank, a run log) is closed the same way."""

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def llm_config(
    llm: BackendChoice, base_url: str | None, model: str, threads: int = 2, ctx: int = 4096
) -> LLMConfig:
    """Build the typed LLM config from CLI options and the environment (the only place it is read)."""
    key = os.environ.get("OPENAI_API_KEY")
    try:
        return LLMConfig(
            backend=llm.value, base_url=base_url, model=model, n_threads=threads, n_ctx=ctx,
            api_key=SecretStr(key) if key else None,
        )  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _make_chat_model(config: LLMConfig) -> BaseChatModel:
    from agent.llm.factory import make_chat_model

    return make_chat_model(config)


make_model: Callable[[LLMConfig], BaseChatModel] = _make_chat_model
"""Builds the chat model from the typed config for the commands that talk to a model; tests swap in the
scripted fake (``monkeypatch.setattr(cli_options, "make_model", ...)``)."""
