"""``evolve chat``, ``evolve ui`` and ``evolve eval memorybank``: thin faces over :mod:`agent.chat`,
:mod:`agent.ui` and :mod:`agent.memorybank_eval`.

The main CLI mounts them as plain functions: ``app.command()(chat)``, ``app.command()(ui)`` and, on its
``eval`` sub-app, ``eval_app.command("memorybank")(eval_memorybank)``. Nothing here imports
:mod:`agent.cli`, so the import order does not matter. The chat model comes from
:data:`agent.cli_options.make_model`, a module-level hook that tests replace with the scripted fake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agent import cli_options
from agent.cli_options import BaseUrlOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config, sigterm_as_interrupt
from agent.errors import EvolveError
from agent.llm.config import BackendChoice

if TYPE_CHECKING:  # the heavy imports wait until a command runs, so `evolve --help` stays quick
    from agent.chat import ChatSession, SessionReflection


KOpt = Annotated[int, typer.Option("--k", min=1, help="Most memories retrieved per answer.")]
BudgetOpt = Annotated[int, typer.Option("--token-budget", min=1, help="Most tokens of memories per prompt.")]
MemoryDirOpt = Annotated[
    Path | None, typer.Option("--memory-dir", help="Memory bank directory (default $XDG_DATA_HOME/evolve/chat).")
]


def default_memory_dir() -> Path:
    """Where the chat keeps its memory: ``$XDG_DATA_HOME/evolve/chat`` or ``~/.local/share/evolve/chat``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "evolve" / "chat"


def _fail(message: object) -> typer.Exit:
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(code=2)


def _short(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


# -- the chat loop ------------------------------------------------------------------------------------------
def _print_portrait(session: ChatSession) -> None:
    from agent.chat import day_of, memory_dates

    p = session.portrait()
    if p.empty:
        typer.echo(f"I don't know anything about {session.user} yet.")
        return
    typer.echo(f"What I know about {session.user} ({p.namespace}):")
    typer.echo(f"  portrait: {_plural(len(p.profile), 'fact')}")
    for r in p.profile:
        typer.echo(f"    {r.id}  {_short(r.text)}" + ("  [pinned]" if r.pinned else ""))
    typer.echo(f"  summaries: {len(p.summaries)}")
    for r in p.summaries[:5]:
        typer.echo(f"    {r.id}  {memory_dates(session.bank, r)}: {_short(r.text)}")
    span = f" from {p.first_day} to {p.last_day}" if p.first_day else ""
    typer.echo(f"  conversation turns remembered: {p.turns}{span}; forgotten so far: {p.forgotten}")
    for r in p.recent_turns:
        typer.echo(f"    {r.id}  {day_of(r.created_at)}  {_short(r.text)}" + ("  [pinned]" if r.pinned else ""))


def _print_why(session: ChatSession) -> None:
    from agent.chat import KIND_LABELS, memory_dates

    last = session.last
    if last is None:
        typer.echo("No answer yet: say something first.")
        return
    if not last.used:
        typer.echo("The last answer used no memories.")
        return
    typer.echo(f"The last answer used {_plural(len(last.used), 'memory', 'memories')}:")
    for hit in last.used:
        p = hit.parts
        typer.echo(f"  {hit.id}  score {hit.score:.2f} (relevance {p.relevance:.2f}, similarity {p.similarity:.2f}, "
                   f"retention {p.retention:.2f}, recency {p.recency:.2f})")  # fmt: skip
        label = KIND_LABELS.get(hit.record.kind, hit.record.kind.value)
        typer.echo(f"      [{memory_dates(session.bank, hit.record)}, {label}] {_short(hit.text)}")


def _print_reflection(result: SessionReflection, skipped: bool = False) -> None:
    r = result.reflect
    if skipped:
        typer.echo("Reflection skipped (--no-reflect); /reflect or the next session will do it.")
    elif r is None:
        typer.echo("Nothing new to reflect on.")
    else:
        line = (f"Reflected on {_plural(r.experiences_reflected, 'turn')}: {_plural(len(r.facts), 'profile fact')}, "
                f"{_plural(len(r.summaries), 'summary', 'summaries')}")  # fmt: skip
        if r.failures:
            line += f"; {_plural(r.failures, 'model reply')} unusable (those turns are retried next time)"
        typer.echo(line + ".")
    f = result.forget
    typer.echo(f"Forgot {_plural(f.archived, 'faded memory', 'faded memories')} "
               f"(of {f.examined} examined).")  # fmt: skip


def _say(session: ChatSession, line: str) -> None:
    typer.echo("assistant> ", nl=False)
    turn = session.ask(line, on_token=lambda piece: typer.echo(piece, nl=False))
    typer.echo("")
    if turn.error is not None:
        typer.secho(f"error: the model failed ({_short(turn.error, 300)}); this turn was not stored, "
                    "the session goes on", fg="red")  # fmt: skip


def _command(session: ChatSession, name: str, arg: str) -> None:
    from agent.chat import COMMANDS

    if name == "/memories":
        _print_portrait(session)
    elif name == "/why":
        _print_why(session)
    elif name == "/forget":
        result = session.forget(arg)
        how = {"id": "by id", "text": "containing that text", "similarity": "most similar"}[result.matched_by]
        typer.echo(f"Forgot {_plural(len(result.archived), 'memory', 'memories')} ({how}):")
        for r in result.archived:
            typer.echo(f"  {r.id}  {_short(r.text)}")
    elif name == "/pin":
        record = session.pin(arg)
        typer.echo(f"Pinned {record.id}: it will not be forgotten. ({_short(record.text, 80)})")
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
    from agent.chat import parse_command, spoken_date
    from agent.errors import UsageError
    from memory.errors import MemoryBankError

    session.warm_up()
    known = session.portrait()
    typer.echo(f"Chatting with {session.user} on {spoken_date(session.bank.clock())} "
               f"(memory: {directory}; {_plural(known.turns, 'turn')} and {_plural(len(known.profile), 'fact')} "
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
    typer.echo(f"Bye, {session.user}. {_plural(len([t for t in session.turns if t.memory_id]), 'turn')} "
               "saved.")  # fmt: skip


# -- evolve chat --------------------------------------------------------------------------------------------
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
    from agent.chat import ChatConfig, ChatSession, SimulatedClock, parse_when, user_namespace
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
        raise _fail(exc) from None
    try:
        session = ChatSession(bank, cli_options.make_model(llm_config(llm, base_url, model, threads)), config)
        run_repl(session, directory, reflect=reflect)
    except (EvolveError, MemoryBankError) as exc:
        raise _fail(exc) from None
    finally:
        bank.close()


# -- evolve ui ----------------------------------------------------------------------------------------------
def ui(
    memory_dir: MemoryDirOpt = None,
    runs: Annotated[Path, typer.Option("--runs", help="Directory of benchmark runs (*/results.json, *.png).")] = Path(
        "runs"
    ),
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback unless told otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8765,
    allow_edits: Annotated[
        bool, typer.Option("--allow-edits", help="Allow forget, pin and restore from the page (default read-only).")
    ] = False,
    public: Annotated[
        bool, typer.Option("--i-know-this-is-public", help="Allow a --host other than loopback.")
    ] = False,
) -> None:
    """Browse and search memories, their evidence chains and history, and benchmark results in a web page."""
    from agent.ui import make_server
    from memory import MemoryBank, MemoryConfig
    from memory.errors import MemoryBankError

    directory = memory_dir or default_memory_dir()
    try:
        if not (directory / "ledger.sqlite3").is_file():
            raise EvolveError(f"no memory bank at {directory}; give --memory-dir DIR (a bank made by chat, run or "
                              "bench, e.g. runs/bench-twx-twc/memory)")  # fmt: skip
        bank = MemoryBank(MemoryConfig(path=directory))
    except (EvolveError, MemoryBankError) as exc:
        raise _fail(exc) from None
    try:
        server = make_server(bank, runs, host=host, port=port, allow_edits=allow_edits, public_ok=public)
    except EvolveError as exc:
        bank.close()
        raise _fail(exc) from None
    mode = "edits allowed" if allow_edits else "read-only"
    try:
        with sigterm_as_interrupt():  # before the banner: whoever waits for it may stop us
            typer.echo(f"evolve dashboard on {server.url} ({mode}; memory {directory}; runs {runs}). Ctrl-C stops.")
            server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()
        bank.close()


# -- evolve eval memorybank ---------------------------------------------------------------------------------
def eval_memorybank(
    path: Annotated[Path, typer.Argument(help="memory_bank_en.json, or the directory holding it and the questions.")],
    users: Annotated[int | None, typer.Option("--users", min=1, help="Only the first N users (default all).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory: answers.jsonl, summary.json, memory/.")] = Path(
        "runs/eval-memorybank"
    ),
    questions: Annotated[
        Path | None, typer.Option("--questions", help="probing_questions_en.jsonl, if not beside the history.")
    ] = None,
    memory_dir: Annotated[Path | None, typer.Option("--memory-dir", help="Memory bank (default OUT/memory).")] = None,
    reflect: Annotated[
        bool, typer.Option("--reflect/--no-reflect", help="Reflect (day summary, portrait) and forget after each day.")
    ] = True,
    k: KOpt = 6,
    token_budget: BudgetOpt = 600,
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Replay the MemoryBank users' days into the chat agent and answer the probing questions.

    Writes each answer with the memories it used (answers.jsonl) and coverage figures (summary.json);
    MemoryBank has no gold answers, so nothing is scored for correctness. Resumes an interrupted run.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from agent.chat import ChatConfig
    from agent.memorybank_eval import MemoryBankEvalConfig, run_memorybank_eval
    from envs.conversation import load_memorybank
    from envs.errors import EnvUsageError
    from memory.errors import MemoryBankError

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        conversations = load_memorybank(path, questions)
        config = MemoryBankEvalConfig(users=users, reflect=reflect, chat=ChatConfig(k=k, token_budget=token_budget))
        chat_model = cli_options.make_model(llm_config(llm, base_url, model, threads))
        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       disable=as_json)  # fmt: skip
        tasks: dict[str, Any] = {}

        def update(event: Any) -> None:
            key = f"{event.user}: {event.phase}"
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=event.total)
            bar.update(tasks[key], completed=event.done)

        with bar:
            summary = run_memorybank_eval(conversations, chat_model, out, memory_dir=memory_dir, config=config,
                                          on_progress=update)  # fmt: skip
    except (EvolveError, EnvUsageError, MemoryBankError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    per = summary["memories_per_answer"]
    typer.echo(f"{summary['answers_written']} answers written for {summary['questions']} probing questions of "
               f"{summary['users']} users ({summary['model_errors']} model errors, {summary['empty_answers']} empty); "
               f"memories used per answer: mean {per['mean']}, min {per['min']}, max {per['max']} "
               f"({summary['answers_without_memories']} answers used none); by kind: "
               f"{summary['memories_used_by_kind']}.")  # fmt: skip
    typer.echo(summary["note"])
    typer.echo(f"answers: {out / 'answers.jsonl'}, summary: {out / 'summary.json'} ({summary['wall_seconds']:.0f} s)")
