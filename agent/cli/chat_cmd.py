"""``evolve chat``: talk to the agent in the terminal; it remembers you across sessions.

The chat model comes from :data:`agent.cli.options.make_model`, a module-level hook that tests replace with the
scripted fake.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli import options
from agent.cli.options import BaseUrlOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config
from agent.cli.output import fail, plural
from agent.errors import EvolveError
from agent.llm.config import BackendChoice
from agent.text import clip

if TYPE_CHECKING:  # the heavy imports wait until a command runs, so `evolve --help` stays quick
    from agent.chat.results import SessionReflection
    from agent.chat.session import ChatSession


KOpt = Annotated[int, typer.Option("--k", min=1, help="Most memories retrieved per answer.")]


BudgetOpt = Annotated[int, typer.Option("--token-budget", min=1, help="Most tokens of memories per prompt.")]


MemoryDirOpt = Annotated[
    Path | None, typer.Option("--memory-dir", help="Memory bank directory (default $XDG_DATA_HOME/evolve/chat).")
]


def default_memory_dir() -> Path:
    """Where the chat keeps its memory: ``$XDG_DATA_HOME/evolve/chat`` or ``~/.local/share/evolve/chat``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "evolve" / "chat"


def _print_portrait(session: ChatSession) -> None:
    from agent.chat.clock import day_of, memory_dates

    p = session.portrait()
    if p.empty:
        typer.echo(f"I don't know anything about {session.user} yet.")
        return
    typer.echo(f"What I know about {session.user} ({p.namespace}):")
    typer.echo(f"  portrait: {plural(len(p.profile), 'fact')}")
    for r in p.profile:
        typer.echo(f"    {r.id}  {clip(r.text)}" + ("  [pinned]" if r.pinned else ""))
    typer.echo(f"  summaries: {len(p.summaries)}")
    for r in p.summaries[:5]:
        typer.echo(f"    {r.id}  {memory_dates(session.bank, r)}: {clip(r.text)}")
    span = f" from {p.first_day} to {p.last_day}" if p.first_day else ""
    typer.echo(f"  conversation turns remembered: {p.turns}{span}; forgotten so far: {p.forgotten}")
    for r in p.recent_turns:
        typer.echo(f"    {r.id}  {day_of(r.created_at)}  {clip(r.text)}" + ("  [pinned]" if r.pinned else ""))


def _print_why(session: ChatSession) -> None:
    from agent.chat.clock import memory_dates
    from agent.chat.commands import KIND_LABELS

    last = session.last
    if last is None:
        typer.echo("No answer yet: say something first.")
        return
    if not last.used:
        typer.echo("The last answer used no memories.")
        return
    typer.echo(f"The last answer used {plural(len(last.used), 'memory', 'memories')}:")
    for hit in last.used:
        p = hit.parts
        typer.echo(f"  {hit.id}  score {hit.score:.2f} (relevance {p.relevance:.2f}, similarity {p.similarity:.2f}, "
                   f"retention {p.retention:.2f}, recency {p.recency:.2f})")  # fmt: skip
        label = KIND_LABELS.get(hit.record.kind, hit.record.kind.value)
        typer.echo(f"      [{memory_dates(session.bank, hit.record)}, {label}] {clip(hit.text)}")


def _print_reflection(result: SessionReflection, skipped: bool = False) -> None:
    r = result.reflect
    if skipped:
        typer.echo("Reflection skipped (--no-reflect); /reflect or the next session will do it.")
    elif r is None:
        typer.echo("Nothing new to reflect on.")
    else:
        line = (f"Reflected on {plural(r.experiences_reflected, 'turn')}: {plural(len(r.facts), 'profile fact')}, "
                f"{plural(len(r.summaries), 'summary', 'summaries')}")  # fmt: skip
        if r.failures:
            line += f"; {plural(r.failures, 'model reply')} unusable (those turns are retried next time)"
        typer.echo(line + ".")
    f = result.forget
    typer.echo(f"Forgot {plural(f.archived, 'faded memory', 'faded memories')} "
               f"(of {f.examined} examined).")  # fmt: skip


def _say(session: ChatSession, line: str) -> None:
    typer.echo("assistant> ", nl=False)
    turn = session.ask(line, on_token=lambda piece: typer.echo(piece, nl=False))
    typer.echo("")
    if turn.error is not None:
        typer.secho(f"error: the model failed ({clip(turn.error, 300)}); this turn was not stored, "
                    "the session goes on", fg="red")  # fmt: skip


def _command(session: ChatSession, name: str, arg: str) -> None:
    from agent.chat.commands import COMMANDS

    if name == "/memories":
        _print_portrait(session)
    elif name == "/why":
        _print_why(session)
    elif name == "/forget":
        result = session.forget(arg)
        how = {"id": "by id", "text": "containing that text", "similarity": "most similar"}[result.matched_by]
        typer.echo(f"Forgot {plural(len(result.archived), 'memory', 'memories')} ({how}):")
        for r in result.archived:
            typer.echo(f"  {r.id}  {clip(r.text)}")
    elif name == "/pin":
        record = session.pin(arg)
        typer.echo(f"Pinned {record.id}: it will not be forgotten. ({clip(record.text, 80)})")
    elif name == "/reflect":
        typer.echo("Reflecting…")
        _print_reflection(session.reflect())
    elif name == "/help":
        typer.echo("Commands:")
        for usage, what in COMMANDS.items():
            typer.echo(f"  {usage:<18} {what}")
    else:
        typer.echo(f"Unknown command {name}; /help lists the commands.")


def run_repl(session: ChatSession, directory: Path, *, reflect: bool = True,
             read: Callable[[str], str] = input) -> None:  # fmt: skip
    """The terminal loop: read lines, answer messages (streamed), run slash commands; reflect at the end.

    Ends on ``/quit``, end of input or Ctrl-C; then reflects on the session (unless ``reflect`` is
    False) and forgets what has faded.
    """
    from agent.chat.clock import spoken_date
    from agent.chat.commands import parse_command
    from agent.errors import UsageError
    from memory.errors import MemoryBankError

    session.warm_up()
    known = session.portrait()
    typer.echo(f"Chatting with {session.user} on {spoken_date(session.bank.clock())} "
               f"(memory: {directory}; {plural(known.turns, 'turn')} and {plural(len(known.profile), 'fact')} "
               "remembered). /help lists the commands, /quit ends.")  # fmt: skip
    while True:
        try:
            line = read(f"{session.user}> ")
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            break
        command = parse_command(line)
        try:
            if command is None:
                if line.strip():
                    _say(session, line)
                else:
                    typer.echo("(say something, or /help for the commands)")
            elif command[0] in ("/quit", "/exit"):
                break
            else:
                _command(session, *command)
        except (UsageError, MemoryBankError) as exc:
            typer.echo(str(exc))
    if reflect:
        typer.echo("Reflecting on this session…")
    _print_reflection(session.end(reflect=reflect), skipped=not reflect)
    typer.echo(f"Bye, {session.user}. {plural(len([t for t in session.turns if t.memory_id]), 'turn')} "
               "saved.")  # fmt: skip


def chat(
    user: Annotated[str, typer.Option("--user", "-u", help="Whose memory: the namespace is user:NAME.")] = "me",
    memory_dir: MemoryDirOpt = None,
    clock: Annotated[
        str | None,
        typer.Option("--clock", "--date", help="Pretend the session happens then (2026-05-01 or 2026-05-01T09:30)."),
    ] = None,
    k: KOpt = 6,
    token_budget: BudgetOpt = 600,
    reflect: Annotated[
        bool, typer.Option("--reflect/--no-reflect", help="Reflect (summary, portrait) when the session ends.")
    ] = True,
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
) -> None:
    """Chat with the agent in the terminal; it remembers you across sessions (/help lists the commands)."""
    from agent.chat.clock import SimulatedClock, parse_when
    from agent.chat.session import ChatConfig, ChatSession, user_namespace
    from memory import MemoryBank, MemoryConfig
    from memory.errors import MemoryBankError

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no weight-loading bars inside the chat
    try:
        user_namespace(user)
        start = parse_when(clock) if clock else None
        config = ChatConfig(user=user, k=k, token_budget=token_budget)
        directory = memory_dir or default_memory_dir()
        bank = MemoryBank(MemoryConfig(path=directory), clock=SimulatedClock(start))
    except (EvolveError, MemoryBankError) as exc:
        raise fail(exc) from None
    try:
        session = ChatSession(bank, options.make_model(llm_config(llm, base_url, model, threads)), config)
        run_repl(session, directory, reflect=reflect)
    except (EvolveError, MemoryBankError) as exc:
        raise fail(exc) from None
    finally:
        bank.close()
