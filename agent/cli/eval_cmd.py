"""``evolve eval``: evaluations of the memory bank on public benchmarks (a thin face over the library).

``evolve eval locomo PATH...`` ingests LoCoMo conversations (turns only) and reports retrieval recall@k
of evidence turns and answer token F1 by category, against a no-memory and a full-context baseline
answered by the same model in the same run (see :mod:`agent.evals.locomo`). ``evolve eval memorybank``
replays the MemoryBank users' days into the chat agent (:mod:`agent.evals.memorybank`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.cli import options
from agent.cli.chat_cmd import BudgetOpt, KOpt
from agent.cli.options import BaseUrlOpt, LlmOpt, ModelOpt, ThreadsOpt, llm_config
from agent.cli.output import fail, stdout
from agent.cli.progress import progress_bar
from agent.errors import EvolveError, UsageError
from agent.evals.locomo import run_locomo_eval
from agent.evals.locomo_report import METHODS, LocomoEvalConfig, LocomoReport
from agent.llm.config import BackendChoice


def parse_categories(text: str) -> tuple[int, ...]:
    """``"1,2,3,4"`` -> (1, 2, 3, 4); raises :class:`UsageError` naming a bad entry."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if part not in {"1", "2", "3", "4", "5"}:
            raise UsageError(f"--categories {text!r}: {part!r} is not a LoCoMo category; use numbers 1-5, e.g. 1,2,3,4")
        out.append(int(part))
    return tuple(dict.fromkeys(out))


def locomo(
    paths: Annotated[list[Path], typer.Argument(help="LoCoMo JSON files or directories of them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    answer: Annotated[bool, typer.Option("--answer/--no-answer",
                                         help="Ask the model for answers (--no-answer: retrieval only, fast).")] = True,
    k: Annotated[int, typer.Option("--k", min=1, help="Retrieved turns given to the model per question.")] = 10,
    max_questions: Annotated[int | None, typer.Option(
        "--max-questions", min=1, help="Most questions in total, sampled evenly per category (deterministic).")] = None,
    categories: Annotated[str, typer.Option(help="Categories to ask: 1 multi-hop, 2 temporal, 3 open-domain, "
                                                 "4 single-hop, 5 adversarial.")] = "1,2,3,4,5",
    memory_dir: Annotated[Path | None, typer.Option(
        "--memory-dir", help="Memory bank directory (default: a temporary directory, removed afterwards).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also save the results (with every answer) as JSON.")]
    = None,
    llm: LlmOpt = BackendChoice.local,
    base_url: BaseUrlOpt = None,
    model: ModelOpt = "local",
    threads: ThreadsOpt = 2,
    ctx: Annotated[int, typer.Option("--ctx", min=256, help="Context window of the model (the full-context "
                                                           "baseline fills it).")] = 4096,
    answer_tokens: Annotated[int, typer.Option("--answer-tokens", min=1, help="Most tokens per answer.")] = 32,
) -> None:
    """Recall@k of evidence turns and answer F1 by category on LoCoMo, vs no-memory and full-context baselines.

    Only the turns are ingested (never the data's summaries or observations). Overall figures average
    categories 1-4; category 5 (adversarial) is reported apart.
    """
    from envs.conversation import load_locomo
    from envs.errors import EnvUsageError
    from memory.errors import MemoryBankError

    try:
        config = LocomoEvalConfig(k=k, max_questions=max_questions, categories=parse_categories(categories),
                                  answer=answer, context_tokens=ctx, answer_tokens=answer_tokens)  # fmt: skip
        if out is not None and out.is_dir():
            raise UsageError(f"--out {str(out)!r} is a directory; give a file name such as {out / 'locomo.json'}")
        conversations = [c for p in paths for c in load_locomo(p)]
        chat = chat_model_for(llm, base_url, model, threads, ctx, answer_tokens) if answer else None
        report = run_with_progress(conversations, config, memory_dir, chat)
    except (EvolveError, EnvUsageError, MemoryBankError) as exc:
        raise fail(str(exc)) from None
    meta = {"data": [str(p) for p in paths], "model": (llm.value if llm is not BackendChoice.openai else
                                                       f"openai:{model}") if answer else None}  # fmt: skip
    data = {**report.to_dict(), **meta}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**report.to_dict(items=True), **meta}, indent=2))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    print_report(report, data, stdout())
    if out is not None:
        stdout().print(f"results saved to {out}")


def chat_model_for(
    llm: BackendChoice, base_url: str | None, model: str, threads: int, ctx: int, answer_tokens: int
) -> Any:
    from agent.llm import make_chat_model

    config = llm_config(llm, base_url, model, threads, ctx)
    return make_chat_model(config.model_copy(update={"max_tokens": answer_tokens}))


def run_with_progress(conversations: list[Any], config: LocomoEvalConfig, memory_dir: Path | None,
                      chat: Any) -> LocomoReport:  # fmt: skip
    """Run the evaluation behind a rich progress bar on stderr (stdout stays clean for --json)."""
    bar, update = progress_bar(lambda e: f"{e.stage:<22}", console=Console(stderr=True))
    with bar:
        if memory_dir is not None:
            return run_locomo_eval(conversations, config, memory_dir, chat=chat, on_progress=update)
        with tempfile.TemporaryDirectory(prefix="evolve-locomo-") as tmp:
            return run_locomo_eval(conversations, config, Path(tmp), chat=chat, on_progress=update)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_report(report: LocomoReport, data: dict[str, Any], console: Console) -> None:
    ks = [f"recall@{k}" for k in report.ks]
    answered = report.config.answer
    table = Table(title=f"LoCoMo: memory bank retrieval{' and answers' if answered else ''} "
                        f"({data['questions']} questions in categories 1-4)")  # fmt: skip
    for col in ("category", "n", *ks):
        table.add_column(col)
    if answered:
        for col in ("F1 memory", "F1 full context", "F1 no memory", "evidence in context"):
            table.add_column(col)

    def row(name: str, block: dict[str, Any]) -> list[str]:
        cells = [name, str(block["questions"]), *(fmt(block[k]) for k in ks)]
        if answered:
            cells += [fmt(block["f1"]), fmt(block["full_context_f1"]), fmt(block["no_memory_f1"]),
                      fmt(block.get("full_context_evidence_in_context"))]  # fmt: skip
        return cells

    for cat, block in data["by_category"].items():
        table.add_row(*row(f"{cat} {block['name']}", block))
    overall = report.summary()
    table.add_row(*row("overall (1-4)", overall), style="bold")
    for conv_id, block in data["by_conversation"].items():
        table.add_row(*row(f"conversation {conv_id}", block), style="dim")
    console.print(table)
    for note in report.truncation_notes():
        console.print(note)
    if answered:
        per = ", ".join(f"{m} {data['seconds_per_answer'].get(m, 0):.2f}" for m in METHODS)
        console.print(f"seconds per answer: {per}; model errors: {report.model_errors}")
    console.print("category 5 (adversarial) scores abstaining ('Not mentioned in the conversation'); "
                  "it is not part of the overall figures")  # fmt: skip


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
    from agent.chat.session import ChatConfig
    from agent.evals.memorybank import MemoryBankEvalConfig, run_memorybank_eval
    from envs.conversation import load_memorybank
    from envs.errors import EnvUsageError
    from memory.errors import MemoryBankError

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        conversations = load_memorybank(path, questions)
        config = MemoryBankEvalConfig(users=users, reflect=reflect, chat=ChatConfig(k=k, token_budget=token_budget))
        chat_model = options.make_model(llm_config(llm, base_url, model, threads))
        bar, update = progress_bar(lambda e: f"{e.user}: {e.phase}", disable=as_json)
        with bar:
            summary = run_memorybank_eval(conversations, chat_model, out, memory_dir=memory_dir, config=config,
                                          on_progress=update)  # fmt: skip
    except (EvolveError, EnvUsageError, MemoryBankError) as exc:
        raise fail(exc) from None
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
