"""Integration: a few real episodes of TextWorldExpress twc with the real small local model and real memory."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

import envs
from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.core.context import MemoryContext
from agent.core.episode import replay_actions, run_episode
from agent.core.runlog import RunLog
from agent.core.state import ActorConfig
from agent.families.textworld.plugin import TextWorld
from agent.learning.config import EvolutionConfig
from agent.learning.experience import experience_inputs
from agent.learning.recall import ABLATIONS, retrieve_context
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig, MemoryKind, MemoryStatus
from tests.fakes import ScriptedChatModel, memory_actor

pytestmark = pytest.mark.slow


def test_real_model_writes_retrieves_and_credits_memories(tmp_path: Path, small_llm: object) -> None:
    config = BenchConfig(
        env_id="twx-twc", preset="easy", train=2, test=1, settings=("in",), ablations=("none", "full"),
        random_baseline=True, evolution=EvolutionConfig(trials=1, max_steps=6, reflect_every=0, forget_every=2),
    )  # fmt: skip
    results = run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    log = RunLog.open(tmp_path / "episodes.jsonl")
    train = [e for e in log.episodes if e.tag == "train"]
    assert len(train) == 2 and all(e.counters.llm_calls > 0 for e in train)
    bank = MemoryBank(MemoryConfig(path=tmp_path / "memory"))
    try:
        records = bank.memories(namespace="env:twx-twc")
        kinds = {r.kind for r in records}
        # written: every training task yields an experience; failures are corrected from the gold path (facts)
        assert MemoryKind.EXPERIENCE in kinds and MemoryKind.FACT in kinds
        # retrieved: the second training task and the `full` test episode had memories in their prompt
        assert train[1].memory_ids
        assert [e for e in log.episodes if e.tag == "in/full"][0].memory_ids
        assert not [e for e in log.episodes if e.tag == "in/none"][0].memory_ids
        # credited by what the steps that stood on them earned; a memory only shown gets no credit
        for m in set(train[1].memory_ids):
            assert bank.get(m).utility_count == sum(m in s.used for s in train[1].steps)
    finally:
        bank.close()
    names = [s["name"] for s in results["settings"]["in"]["summaries"]]
    assert names == ["none", "full", "random"]
    assert (tmp_path / "learning_curve.png").is_file()
    # memory utility: `full` against `none` on the same task, and the credit training gave
    (paired,) = results["settings"]["in"]["paired_with_none"]
    assert paired["name"] == "full" and paired["tasks"] == 1
    assert results["memory_credit"]["kinds"]["experience"]["memories"] >= 1
    assert "with memory vs without (none)" in (tmp_path / "results.md").read_text()


def test_real_model_samples_a_trial_at_temperature(tmp_path: Path, small_llm: object) -> None:
    """Self-consistency samples through llama.cpp: the temperature and seed options reach the real model."""
    config = BenchConfig(
        env_id="twx-twc", preset="easy", train=1, test=1, settings=(), ablations=(), random_baseline=False,
        evolution=EvolutionConfig(trials=1, samples=2, max_steps=4, reflect_every=0, forget_every=0,
                                  rationalize=False),
    )  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    train = [e for e in RunLog.open(tmp_path / "episodes.jsonl").episodes if e.tag == "train"]
    assert [e.sample for e in train] == [0, 1]
    assert all(e.counters.llm_calls > 0 and e.counters.model_errors == 0 for e in train)


def test_real_cookingworld_run_writes_game_replies_and_retrieves_after_the_recipe(
    tmp_path: Path, small_llm: object
) -> None:
    """Partially observable: the recipe appears only after "read cookbook". Real model, MiniLM, Chroma."""
    config = BenchConfig(
        env_id="twx-cookingworld", preset="easy", train=1, test=1, settings=("in",), ablations=("full",),
        random_baseline=False, evolution=EvolutionConfig(trials=1, max_steps=11, reflect_every=0, forget_every=0),
    )  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    episodes = RunLog.open(tmp_path / "episodes.jsonl").episodes
    assert episodes and all(e.counters.model_errors == 0 and e.counters.recalls <= 2 for e in episodes)
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        obs = cooking.reset(seed=1)
        first = obs.text
        gold = cooking.gold_actions() or []
        bank = MemoryBank(MemoryConfig(path=tmp_path / "memory"))
        try:
            facts = [r.text for r in bank.memories(namespace="env:twx-cookingworld", kinds=[MemoryKind.FACT])]
            # training seed 0 grills a chicken wing (gold path: 10 steps): solved, or replayed from the gold path
            # after the failure, the fact keeps the game's reply, which names what the toaster does
            grill = 'cook chicken wing in toaster → earned points (accepted): "You grill the chicken wing with the'
            assert f'{grill} toaster."' in facts, facts
            retrieve = functools.partial(retrieve_context, bank, task=obs.task, namespace="env:twx-cookingworld",
                                         kinds=ABLATIONS["full"], record=False, family=TextWorld())  # fmt: skip
            calls: list[str] = []

            def recall(observation: str, seen: str) -> MemoryContext:
                calls.append(observation)
                return retrieve(observation=observation, seen=seen)

            fake = ScriptedChatModel().enqueue(*[json.dumps({"thought": "", "action": a}) for a in gold])
            start = retrieve(observation=first)
            episode = run_episode(cooking, memory_actor(fake), seed=1, context=start, recall=recall, recalls=2)
            assert episode.success and calls and "Ingredients" in calls[0]
            # after the recipe named the chicken wing, the facts about it are on topic and tag the toaster
            assert "cook chicken wing in toaster" not in start.rewarded_actions
            assert "cook chicken wing in toaster" in recall(calls[0], f"{first}\n{calls[0]}").rewarded_actions
        finally:
            bank.close()


def test_real_model_without_plugins_acts_on_valued_memory(tmp_path: Path, small_llm: object) -> None:
    """The general agent (no family plug-in) with the real small model, a real bank of five training games' gold
    paths (as STaR correction writes them) and a held-out game: memory takes the steps it is certain of without
    the model, the facts behind them are credited to the episode, and the results say no plug-in was on."""
    with (envs.make("twx-cookingworld", split="train", preset="easy") as env,
          MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank):  # fmt: skip
        for seed in range(5):
            episode = replay_actions(env, seed, episode_id=f"gold-{seed}")
            bank.insert_many(experience_inputs(episode, "env:twx-cookingworld", corrected=True))
    config = BenchConfig(
        env_id="twx-cookingworld", preset="easy", train=0, test=1, settings=("in",), ablations=("full",),
        random_baseline=False, evolution=EvolutionConfig(max_steps=6), actor=ActorConfig(families=()),
    )  # fmt: skip
    out = tmp_path / "bench"
    results = run_bench(LLMConfig(backend="local-small"), config, out, memory_dir=tmp_path / "memory",
                        chat=small_llm)  # type: ignore[arg-type]  # fmt: skip
    assert results["families"] == []
    assert "Family plug-ins: none" in (out / "results.md").read_text()
    (full,) = [e for e in RunLog.open(out / "episodes.jsonl").episodes if e.tag == "in/full"]
    memory_steps = [s for s in full.steps if s.source == "memory"]
    assert memory_steps, [(s.action, s.source) for s in full.steps]
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        facts = {r.id: r for r in bank.memories(kinds=[MemoryKind.FACT], namespace="env:twx-cookingworld")}
    assert not any(r.meta.get("kept") or r.meta.get("how") for r in facts.values())  # the plug-in's facts
    grounded = {str(facts[i].meta.get("action")) for i in full.memory_ids if i in facts}
    assert any(s.action in grounded for s in memory_steps)  # the facts behind memory's steps are credited


def test_real_model_runs_a_suite_member_and_tables_it(tmp_path: Path, small_llm: object) -> None:
    """The suite end to end with the real small model, real memory and the real environment, on its quickest member
    (one-step reasoning-gym answers): every ablation played on the same held-out task, the commit recorded."""
    from agent.bench.suite import SuiteConfig, run_suite

    def run(config: BenchConfig, directory: Path) -> dict[str, object]:
        return run_bench(LLMConfig(backend="local-small"), config, directory, chat=small_llm)  # type: ignore[arg-type]

    suite = run_suite(SuiteConfig(train=1, test=1, only=("rg-leg_counting",)), tmp_path, run)
    (row,) = suite["members"]
    assert row["complete"] and row["code"] and row["families"] == []
    assert set(row["summaries"]) == {"none", "full", "full-model", "rules", "insights", "insights-ungated", "random"}
    played = [e for e in RunLog.open(tmp_path / "rg-leg_counting" / "episodes.jsonl").episodes if e.split != "x"]
    assert {e.tag for e in played} >= {"train", "in/none", "in/full", "in/full-model", "in/rules"}
    assert len({e.seed for e in played if e.tag.startswith("in/")}) == 1  # the same held-out task for each
    assert sum(e.counters.llm_calls for e in played if e.tag == "in/rules") == 0  # no model in rules-only
    assert "| rg-leg_counting (easy) | none | 1 |" in (tmp_path / "suite.md").read_text()


def test_real_model_rules_wait_for_a_paired_trial(tmp_path: Path, small_llm: object) -> None:
    """The gate with the real model: the rules reflection writes are candidates, each tried on a training task
    with and without it at temperature 0, and what the trial decided is what the bank holds."""
    config = BenchConfig(
        env_id="twx-twc", preset="easy", train=2, test=1, settings=(), ablations=(), random_baseline=False,
        evolution=EvolutionConfig(trials=1, max_steps=5, reflect_every=2, forget_every=0, rationalize=False,
                                  check_rules=False, gate_seeds=1, gate_rules=2),
    )  # fmt: skip
    results = run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=small_llm)  # type: ignore[arg-type]
    line = json.loads((tmp_path / "reflect.jsonl").read_text().splitlines()[-1])
    assert line["insights_added"], line["rejected"]  # the first reflect must propose at least one rule
    trials = line["gate"]["trials"]
    assert {t["id"] for t in trials} == set(line["insights_added"][:2])
    assert results["reflect"]["gate"]["model_calls"] > 0
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        for t in trials:
            (stored,) = bank.trials.of(t["id"])
            assert stored.decision == t["decision"] and list(stored.seeds) == t["seeds"]
            assert len(stored.with_rule) == len(stored.without_rule) == 1
            want = MemoryStatus.ACTIVE if t["decision"] == "admitted" else MemoryStatus.CANDIDATE
            assert bank.get(t["id"]).status is want
            assert bank.get(t["id"]).utility_count == 1
