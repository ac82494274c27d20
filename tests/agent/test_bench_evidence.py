"""Clean evidence from a bench: named seeds, the code that played, a frozen clock, replays that repeat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.bench.config import BenchConfig, HeldOutConfig
from agent.bench.runner import run_bench
from agent.cli.app import app
from agent.core.runlog import RunLog
from agent.errors import UsageError
from agent.learning.config import EvolutionConfig
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig
from tests.agent.test_evolve import scripted

QUICK = EvolutionConfig(trials=1, max_steps=6, reflect_every=0, forget_every=0)


def config(**fields: object) -> BenchConfig:
    base: dict[str, object] = {"env_id": "twx-twc", "preset": "easy", "train": 2, "test": 2, "settings": ("in",),
                               "ablations": ("full",), "random_baseline": False, "evolution": QUICK}  # fmt: skip
    return BenchConfig.model_validate({**base, **fields})


def test_held_out_play_sees_the_bank_at_the_end_of_training(tmp_path: Path) -> None:
    results = run_bench(LLMConfig(backend="local-small"), config(), tmp_path / "b", chat=scripted(200))
    with MemoryBank(MemoryConfig(path=tmp_path / "b" / "memory")) as bank:
        assert results["clock_frozen_at"] == bank.view.latest_activity()
    assert results["settings"]["in"]["seeds"] == [300, 301]  # the development range by default
    assert "Held-out seeds: the dev range" in (tmp_path / "b" / "results.md").read_text()


def test_named_seeds_are_played_and_checked(tmp_path: Path) -> None:
    named = config(test=2, held_out=HeldOutConfig(seeds=(700, 702)))
    results = run_bench(LLMConfig(backend="local-small"), named, tmp_path / "b", chat=scripted(200))
    assert results["settings"]["in"]["seeds"] == [700, 702]
    assert {e.seed for e in RunLog.open(tmp_path / "b" / "episodes.jsonl").episodes if e.tag == "in/full"} == {700, 702}
    with pytest.raises(UsageError, match="were trained on"):
        run_bench(LLMConfig(backend="local-small"), config(test=1, held_out=HeldOutConfig(seeds=(1,))),
                  tmp_path / "c", chat=scripted(200))  # fmt: skip
    with pytest.raises(UsageError, match="one fold"):
        run_bench(LLMConfig(backend="local-small"), config(test=1, settings=("in", "out"),
                  held_out=HeldOutConfig(seeds=(700,))), tmp_path / "d", chat=scripted(200))  # fmt: skip


def test_the_cli_plays_named_seeds_on_another_banks_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_bench(LLMConfig(backend="local-small"), config(), tmp_path / "b", chat=scripted(200))
    seen: list[BenchConfig] = []

    def run(llm: LLMConfig, cfg: BenchConfig, out: Path, **kwargs: object) -> dict[str, object]:
        seen.append(cfg)
        return run_bench(llm, cfg, out, chat=scripted(200), memory_dir=kwargs["memory_dir"])  # type: ignore[arg-type]

    monkeypatch.setattr("agent.bench.runner.run_bench", run)
    out = tmp_path / "eval"
    bank = str(tmp_path / "b" / "memory")
    result = CliRunner().invoke(app, ["bench", "twx-twc", "--train", "0", "--memory-dir", bank, "--test-seeds",
                                      "710-712", "--settings", "in", "--ablations", "full", "--out", str(out),
                                      "--llm", "local-small"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert seen[0].held_out.seeds == (710, 711, 712) and seen[0].test == 3
    assert json.loads((out / "results.json").read_text())["settings"]["in"]["seeds"] == [710, 711, 712]
    bad = CliRunner().invoke(app, ["bench", "twx-twc", "--test-seeds", "7x", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--test-seeds '7x'" in bad.output


def test_episodes_of_other_agent_code_are_refused_or_flagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "b"
    first = run_bench(LLMConfig(backend="local-small"), config(), out, chat=scripted(200))
    log = out / "episodes.jsonl"
    assert first["episodes_by_code"] == {first["code"]["code"]: len(RunLog.open(log).episodes)}
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))  # the last held-out episode was lost: a resume plays it again
    monkeypatch.setattr("agent.bench.runner.code_identity", lambda: {"code": "other", "commit": "abc1234"})
    with pytest.raises(UsageError, match="other agent code"):
        run_bench(LLMConfig(backend="local-small"), config(), out, chat=scripted(200))
    mixed = run_bench(LLMConfig(backend="local-small"), config(), out, chat=scripted(200), allow_code_change=True)
    assert mixed["episodes_by_code"] == {first["code"]["code"]: len(lines) - 1, "other": 1}
    assert "different agent code" in (out / "results.md").read_text()
    assert [c["code"] for c in json.loads((out / "config.json").read_text())["code_history"]] == [
        first["code"]["code"], "other"]


@pytest.mark.slow
def test_a_held_out_replay_with_the_same_bank_code_and_model_plays_the_same_episodes(tmp_path: Path) -> None:
    """The real small model on two unseen games, twice, on copies of one trained bank (fresh model each time)."""
    llm = LLMConfig(backend="local-small", max_tokens=128)
    trained = run_bench(llm, config(train=1, test=2, evolution=QUICK.model_copy(update={"max_steps": 5})),
                        tmp_path / "train")  # fmt: skip
    assert trained["complete"]
    episodes = [[(e.seed, [s.action for s in e.steps], e.memory_ids)
                 for e in RunLog.open(tmp_path / "train" / "episodes.jsonl").episodes if e.tag == "in/full"]]
    for run in ("a", "b"):
        bank = tmp_path / f"bank-{run}"
        shutil.copytree(tmp_path / "train" / "memory", bank)
        run_bench(llm, config(train=0, test=2, evolution=QUICK.model_copy(update={"max_steps": 5})), tmp_path / run,
                  memory_dir=bank)  # fmt: skip
        episodes.append([(e.seed, [s.action for s in e.steps], e.memory_ids)
                         for e in RunLog.open(tmp_path / run / "episodes.jsonl").episodes])  # fmt: skip
    assert episodes[0] == episodes[1] == episodes[2]  # in the bench that trained, and in two replays
    assert any(ids for _, _, ids in episodes[0])  # memory was used


def test_who_decides_in_each_ablation(tmp_path: Path) -> None:
    """full: memory policies, then the model; full-model: the model alone; rules: the policies, then chance."""
    ablations = ("none", "full", "full-model", "rules")
    results = run_bench(LLMConfig(backend="local-small"), config(train=3, test=3, ablations=ablations),
                        tmp_path / "b", chat=scripted(400))  # fmt: skip
    played = {a: [e for e in RunLog.open(tmp_path / "b" / "episodes.jsonl").episodes if e.tag == f"in/{a}"]
              for a in ablations}  # fmt: skip
    sources = {a: {s.source for e in eps for s in e.steps} for a, eps in played.items()}
    assert sources["full"] & {"memory", "analogy", "likeness"}  # memory policies take steps where they know how
    assert not sources["full-model"] & {"memory", "analogy", "likeness", "random"}
    assert not sources["rules"] & {"model", "matched", "fallback"} and "random" in sources["rules"]
    assert all(e.counters.llm_calls == 0 for e in played["rules"])
    summaries = {s["name"]: s for s in results["settings"]["in"]["summaries"]}
    assert summaries["rules"]["model_steps"] == 0 and summaries["full-model"]["memory_steps"] == 0
    assert "| by the model |" in (tmp_path / "b" / "results.md").read_text()
