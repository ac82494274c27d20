"""The evolution loop and bench wiring with the scripted fake model, real TextWorldExpress and real memory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage

import envs
from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.bench.seeds import held_out, named_seeds, parse_seeds, training_seeds
from agent.core.runlog import RunLog
from agent.core.state import ActorConfig
from agent.core.trajectory import Episode
from agent.errors import UsageError
from agent.learning.config import EvolutionConfig
from agent.learning.evolve import weakest_task_type
from agent.learning.recall import ABLATIONS, parse_ablations
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig, MemoryKind
from tests.fakes import ScriptedChatModel


def gold_player(messages: list[BaseMessage]) -> str:
    """Plays twc easy by the book: take the object, then put it where memory says, else first valid put."""
    text = messages[-1].text
    if "solution" in text.lower() and "correct" in text.lower() or "failed this task" in text:
        return json.dumps({"text": "Put the object where it belongs: the laundry basket for dirty clothes."})
    actions = [line[2:].split(" (")[0] for line in text.splitlines() if line.startswith("- ")]
    worked = [line[2:].split(" (")[0] for line in text.splitlines() if "worked in similar tasks" in line]
    takes = [a for a in actions if a.startswith("take ")]
    puts = [a for a in actions if a.startswith("put ")]
    choice = (worked or takes or puts or actions)[0]
    return json.dumps({"thought": "follow memory", "action": choice})


def scripted(n: int) -> ScriptedChatModel:
    return ScriptedChatModel().enqueue(*[gold_player] * n)


def test_training_and_held_out_seeds_come_from_disjoint_ranges_fixed_in_code() -> None:
    fold, test_fold = range(1000), range(20000, 21000)
    assert training_seeds(fold, 300) == list(range(300))
    with pytest.raises(UsageError, match="at most 300 for --train"):
        training_seeds(fold, 301)
    assert held_out(fold, "in", "dev", 50) == list(range(300, 350))
    assert held_out(fold, "in", "report", 100) == list(range(600, 700))
    assert held_out(test_fold, "out", "dev", 50) == list(range(20100, 20150))
    assert held_out(test_fold, "out", "report", 100) == list(range(20200, 20300))
    assert held_out(fold, "in", "legacy", 30) == list(range(500, 530))  # what benches saved before played
    with pytest.raises(UsageError, match="at most 300 dev seeds"):
        held_out(fold, "in", "dev", 301)
    assert parse_seeds("700-702, 800") == (700, 701, 702, 800)
    for bad in ("7-5", "x", ""):
        with pytest.raises(UsageError, match="--test-seeds"):
            parse_seeds(bad)
    assert named_seeds([700, 701], list(fold), [0, 1], "in") == [700, 701]
    with pytest.raises(UsageError, match="were trained on"):
        named_seeds([1, 700], list(fold), [0, 1], "in")
    with pytest.raises(UsageError, match="not in the out fold"):
        named_seeds([700], list(test_fold), [], "out")


def test_unknown_ablation_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="choose from none, reflexion"):
        parse_ablations("none,everything")
    assert parse_ablations("none, full") == ["none", "full"]
    assert MemoryKind.FACT in ABLATIONS["full"] and ABLATIONS["none"] == ()


def test_bench_runs_phases_writes_results_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.bench.runner.EVAL_BLOCK", 1)  # every ablation on one seed before the next seed
    config = BenchConfig(env_id="twx-twc", preset="easy", train=3, test=2, settings=("in",),
                         ablations=("none", "full"), evolution=EvolutionConfig(trials=2, max_steps=6,
                         reflect_every=0, forget_every=3))  # fmt: skip
    out = tmp_path / "bench"
    fake = scripted(400)
    results = run_bench(LLMConfig(backend="local-small"), config, out, chat=fake)
    assert (out / "results.json").is_file() and (out / "learning_curve.png").stat().st_size > 5000
    assert "| none |" in (out / "results.md").read_text()
    assert "with memory vs without (none)" in (out / "results.md").read_text()
    (paired,) = results["settings"]["in"]["paired_with_none"]
    assert paired["name"] == "full" and paired["tasks"] == 2
    assert results["memory_credit"]["kinds"]["fact"]["memories"] > 0
    summaries = {s["name"]: s for s in results["settings"]["in"]["summaries"]}
    assert set(summaries) == {"none", "full", "random"}
    assert summaries["none"]["episodes"] == 2
    # memory was written by the update phase: facts from rewarded actions and experiences
    bank = MemoryBank(MemoryConfig(path=out / "memory"))
    kinds = {r.kind for r in bank.memories(namespace="env:twx-twc")}
    assert {MemoryKind.EXPERIENCE, MemoryKind.FACT} <= kinds
    bank.close()
    # the full ablation retrieved memories; `none` did not
    log = RunLog.open(out / "episodes.jsonl")
    assert all(not e.memory_ids for e in log.episodes if e.tag == "in/none")
    assert any(e.memory_ids for e in log.episodes if e.tag == "in/full")
    tested = [(e.tag, e.seed) for e in log.episodes if e.tag != "train"]
    seeds = results["settings"]["in"]["seeds"]
    assert tested == [(t, s) for s in seeds for t in ("in/none", "in/full")] and results["complete"]
    # the time every episode took, across resumes, not only this invocation's
    assert results["episode_seconds"] == pytest.approx(sum(e.seconds for e in log.episodes), abs=0.1)
    assert results["episode_seconds"] > 0
    assert "Model time over all episodes" in (out / "results.md").read_text()
    calls_before = len(fake.calls)
    # resume: everything is done, so a second run makes no model call for finished episodes
    run_bench(LLMConfig(backend="local-small"), config, out, chat=fake)
    assert len(fake.calls) == calls_before
    assert "memory_from" not in results and "Memory: brought in" not in (out / "results.md").read_text()
    # transfer: another bench, with no training, plays on the memory this one built and leaves it as it was
    with MemoryBank(MemoryConfig(path=out / "memory")) as bank:
        before = {r.id: (r.recall_count, r.utility_count) for r in bank.memories()}
    reuse = config.model_copy(update={"train": 0})
    again = run_bench(LLMConfig(backend="local-small"), reuse, tmp_path / "reuse", memory_dir=out / "memory",
                      chat=scripted(200))  # fmt: skip
    assert again["memory_from"] == str(out / "memory") and again["train_seeds"] == []
    assert f"Memory: brought in from {out / 'memory'}" in (tmp_path / "reuse" / "results.md").read_text()
    assert any(e.memory_ids for e in RunLog.open(tmp_path / "reuse" / "episodes.jsonl").episodes if e.tag == "in/full")
    with MemoryBank(MemoryConfig(path=out / "memory")) as bank:
        assert {r.id: (r.recall_count, r.utility_count) for r in bank.memories()} == before


def test_interrupted_training_resumes_without_redoing_episodes(tmp_path: Path) -> None:
    config = BenchConfig(env_id="twx-twc", preset="easy", train=3, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=EvolutionConfig(trials=1, max_steps=4, reflect_every=0,
                         forget_every=0, rationalize=False))  # fmt: skip
    out = tmp_path / "run"
    calls = 0

    def flaky(messages: list[BaseMessage]) -> str:
        nonlocal calls
        calls += 1
        if calls == 6:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the second or third episode
        return gold_player(messages)

    with pytest.raises(KeyboardInterrupt):
        run_bench(LLMConfig(backend="local-small"), config, out, chat=ScriptedChatModel().enqueue(*[flaky] * 50))
    finished = [e.seed for e in RunLog.open(out / "episodes.jsonl").episodes]
    assert finished and len(finished) < 3
    run_bench(LLMConfig(backend="local-small"), config, out, chat=scripted(50))
    seeds = [e.seed for e in RunLog.open(out / "episodes.jsonl").episodes]
    assert sorted(seeds) == sorted(set(seeds)) and len(seeds) == 3  # each task once, none redone


def test_weakest_task_type_is_the_next_goal() -> None:
    def ep(task_type: str, success: bool) -> Episode:
        return Episode(env_id="x", split="dev", seed=0, task_type=task_type, task="", first_observation="",
                       success=success)  # fmt: skip

    assert weakest_task_type([ep("a", True), ep("b", False), ep("b", True)]) == "b"
    assert weakest_task_type([]) is None


def test_bench_rejects_unknown_env_with_suggestion(tmp_path: Path) -> None:
    config = BenchConfig(env_id="twx-twx", train=1, test=1)
    with pytest.raises(envs.EnvUsageError, match="twx-twc"):
        run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=ScriptedChatModel())


def test_reflection_model_errors_are_counted_not_raised(tmp_path: Path) -> None:
    def down(_: list[BaseMessage]) -> str:
        raise ConnectionError("model server is down")

    def policy(messages: list[BaseMessage]) -> str:
        text = messages[-1].text
        if "failed this task" in text or "correct solution is" in text:
            return down(messages)
        return json.dumps({"thought": "t", "action": "inventory"})

    config = BenchConfig(env_id="twx-twc", preset="easy", train=1, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=EvolutionConfig(trials=2, max_steps=5, reflect_every=0,
                         forget_every=0))  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=ScriptedChatModel().enqueue(*[policy] * 20))
    train = [e for e in RunLog.open(tmp_path / "episodes.jsonl").episodes if e.tag == "train"]
    assert len(train) == 2  # both trials ran although every reflection call failed
    assert sum(e.counters.model_errors for e in train) == 2  # the Reflexion note and the gold rationale


def _solved(*actions: str, rewarded: tuple[str, ...], success: bool = True, score: float = 1.0) -> Episode:
    from agent.core.trajectory import StepRecord

    steps = [StepRecord(action=a, observation="", reward=1.0 if a in rewarded else 0.0, score=0.0) for a in actions]
    return Episode(env_id="x", split="train", seed=0, task_type="t", task="", first_observation="", steps=steps,
                   success=success, score=score)  # fmt: skip


def test_self_consistency_keeps_the_solved_samples_that_agree() -> None:
    from agent.learning.evolve import self_consistent

    a1 = _solved("take apple", "look around", "put apple in fridge", rewarded=("put apple in fridge",))
    a2 = _solved("take apple", "put apple in fridge", rewarded=("put apple in fridge",))
    b = _solved("take apple", "put apple in basket", rewarded=("put apple in basket",))  # the odd one out
    partial = _solved("take apple", "put apple in sink", rewarded=("put apple in sink",), success=False, score=0.5)
    failed = _solved("inventory", rewarded=(), success=False, score=0.0)
    assert a1.solution() == a2.solution() == ("take apple", "put apple in fridge")
    kept = self_consistent([a1, b, partial, a2, failed])
    assert kept == [a1, partial, a2]  # the majority's solution; rewarded partial progress stays; failures go
    assert self_consistent([b, failed]) == [b]  # one solved sample: the reward filter alone
    assert self_consistent([a1, b]) == [b]  # a tie goes to the shorter solution


def test_samples_are_drawn_at_temperature_and_the_filter_decides_what_is_stored(tmp_path: Path) -> None:
    fake = ScriptedChatModel()

    def policy(messages: list[BaseMessage]) -> str:
        options = fake.kwargs_seen[-1]
        if options.get("temperature") and options["seed"] % 2:  # one sampled episode fools around
            return json.dumps({"thought": "t", "action": "inventory"})
        untried = [line[2:] for line in messages[-1].text.splitlines() if line.startswith("- ")]
        action = next(a for a in gold if a in untried)  # training seed 0 of twc easy, by the book
        return json.dumps({"thought": "t", "action": action})

    gold = ["take clean brown shirt", "open wardrobe", "put clean brown shirt in wardrobe"]

    fake.enqueue(*[policy] * 60)
    config = BenchConfig(env_id="twx-twc", preset="easy", train=1, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=EvolutionConfig(trials=1, samples=3, max_steps=12,
                         reflect_every=0, forget_every=0, rationalize=False))  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=fake)
    train = [e for e in RunLog.open(tmp_path / "episodes.jsonl").episodes if e.tag == "train"]
    assert [e.sample for e in train] == [0, 1, 2] and train[0].success
    sampled = [kw for kw in fake.kwargs_seen if "temperature" in kw]
    assert sampled and all(kw["temperature"] == 0.7 for kw in sampled)
    assert "temperature" not in fake.kwargs_seen[0]  # the first sample keeps the model's own settings
    assert len({kw["seed"] for kw in sampled}) == 2  # samples 1 and 2 differ
    assert sum(not e.success for e in train) == 1


def test_a_bench_saved_before_an_option_existed_still_resumes(tmp_path: Path) -> None:
    from agent.bench.resume import saved_bench

    config = BenchConfig(env_id="twx-twc", train=3, test=2)
    saved = config.model_dump(mode="json")
    del saved["evolution"]["samples"], saved["evolution"]["sample_temperature"]  # as written by an older version
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"bench": saved}))
    assert saved_bench(path) == config.model_dump(mode="json")
    other = BenchConfig(env_id="twx-twc", train=3, test=2, evolution=EvolutionConfig(samples=2))
    assert saved_bench(path) != other.model_dump(mode="json")  # a real difference still refuses to resume


def test_a_bench_saved_before_recalls_resumes_as_it_ran(tmp_path: Path) -> None:
    # before ``recalls`` and ``pin_found`` existed memory was retrieved once per episode and only recent steps
    # were shown: the same command resumes such a bench with those values, not with the new defaults
    from agent.bench.resume import as_it_ran, differences, kept_as_before, saved_bench

    saved = BenchConfig(env_id="twx-twc", train=3, test=2).model_dump(mode="json")
    del saved["evolution"]["recalls"], saved["actor"]["pin_found"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"bench": saved}))
    resumed = as_it_ran(BenchConfig(env_id="twx-twc", train=3, test=2), path)
    assert resumed.evolution.recalls == 0 and not resumed.actor.pin_found
    assert resumed.evolution.trials == 2 and resumed.actor.hide_penalised  # nothing else changes
    assert as_it_ran(BenchConfig(env_id="twx-twc"), tmp_path / "none.json") == BenchConfig(env_id="twx-twc")
    # a resume saves those values explicitly and records them as kept: the same command resumes it again
    kept = {"evolution": {"recalls": 0}, "actor": {"pin_found": False}}
    assert kept_as_before(path) == kept
    path.write_text(json.dumps({"bench": resumed.model_dump(mode="json"), "as_before": kept}))
    again = as_it_ran(BenchConfig(env_id="twx-twc", train=3, test=2), path)
    assert again == resumed and differences(saved_bench(path), again.model_dump(mode="json")) == []
    path.write_text(json.dumps({"bench": saved}))
    # any other difference still refuses to resume, and the error names it
    with pytest.raises(UsageError, match=r"holds a bench with another configuration: train \(saved 3, now 4\)"):
        run_bench(LLMConfig(), BenchConfig(env_id="twx-twc", train=4, test=2), tmp_path, chat=ScriptedChatModel())
    assert json.loads(path.read_text())["bench"] == saved  # not overwritten


@pytest.mark.parametrize("families", [("textworld",), ()])
def test_a_retry_avoids_what_ended_the_last_trial_and_retakes_what_earned(tmp_path: Path,
                                                                          families: tuple[str, ...]) -> None:
    # cookingworld seed 0 says grill the chicken wing (toaster); cooking it in the oven ends the game. The
    # second trial is told so first, the oven is no longer offered, and what the first earned with is taken again
    # without the model (the plug-in's tag, or the general agent's value)
    with envs.make("twx-cookingworld", split="train", preset="easy") as cooking:
        cooking.reset(seed=0)
        gold = cooking.gold_actions() or []
    assert "cook chicken wing in toaster" in gold
    prompts: list[str] = []

    def policy(messages: list[BaseMessage]) -> str:
        text = messages[-1].text
        if "failed this task" in text or "correct solution is" in text:
            return json.dumps({"text": "Read the cookbook first."})  # a weak note, as the 1.5B model writes
        prompts.append("\n".join(m.text for m in messages))
        listed = {line[2:].split(" (")[0]: line for line in text.splitlines() if line.startswith("- ")}
        plan = ["cook chicken wing in oven" if a.endswith("in toaster") and "cook chicken wing in oven" in listed
                else a for a in gold]  # fmt: skip
        action = next(a for a in plan if a in listed and "tried" not in listed[a])
        return json.dumps({"thought": "t", "action": action})

    config = BenchConfig(env_id="twx-cookingworld", preset="easy", train=1, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=EvolutionConfig(trials=2, max_steps=20, reflect_every=0,
                         forget_every=0, rationalize=False), actor=ActorConfig(families=families))  # fmt: skip
    run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=ScriptedChatModel().enqueue(*[policy] * 60))
    first, second = [e for e in RunLog.open(tmp_path / "episodes.jsonl").episodes if e.tag == "train"]
    assert first.steps[-1].action == "cook chicken wing in oven" and first.stop_reason == "terminated"
    assert not first.success and second.success
    assert "take chicken wing" in [s.action for s in second.steps if s.source == "memory"]
    retry = prompts[len(first.steps):]
    assert ("Earlier attempts: take chicken wing → earned points; cook chicken wing in oven → ended the game (lost)"
            in retry[0])
    assert retry[0].index("Earlier attempts") < retry[0].index("Read the cookbook first.")
    assert all("- cook chicken wing in oven" not in p for p in retry)


@pytest.mark.parametrize("check_rules", [True, False])
def test_rules_naming_actions_the_evidence_never_took_are_refused(tmp_path: Path, check_rules: bool) -> None:
    # the 1.5B model proposed "when you see a stove, take the stove" from games that only cooked with it
    proposed: list[str] = []

    def policy(messages: list[BaseMessage]) -> str:
        text = messages[-1].text
        if "Current rules:" not in text:
            return gold_player(messages)
        put = re.search(r"put ([a-z ]+?) (?:in|on) ([a-z ]+?)(?= ->| \(|\n|$)", text)
        assert put, text
        thing, place = put.groups()
        proposed[:] = [f"when you see a {place}, take the {place}", f"when you see a {thing}, take the {thing}"]
        return json.dumps({"operations": [{"op": "ADD", "text": t, "evidence": ["E1", "E2"]} for t in proposed]})

    config = BenchConfig(env_id="twx-twc", preset="easy", train=2, test=1, settings=(), ablations=(),
                         random_baseline=False, evolution=EvolutionConfig(trials=1, max_steps=8, reflect_every=2,
                         forget_every=0, rationalize=False, check_rules=check_rules))  # fmt: skip
    results = run_bench(LLMConfig(backend="local-small"), config, tmp_path,
                        chat=ScriptedChatModel().enqueue(*[policy] * 200))  # fmt: skip
    assert len(proposed) == 2
    # what reflect refused, and why, is in the results
    refused = results["reflect"]["rejected"]
    assert results["reflect"]["runs"] == 1 and results["reflect"]["insights_added"] == (1 if check_rules else 2)
    assert len(refused) == check_rules and all("never took" in r and proposed[0] in r for r in refused)
    assert f"{int(check_rules)} proposals refused" in (tmp_path / "results.md").read_text()
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        rules = {r.text for r in bank.memories([MemoryKind.INSIGHT], "env:twx-twc")}
    assert rules == ({proposed[1]} if check_rules else set(proposed))


def test_demo_pairs_unseen_games_without_and_with_memory(tmp_path: Path) -> None:
    """The demo's logic with the scripted model: the per-game table, who decided, the way on; a rerun sets the
    first run aside instead of resuming it."""
    from rich.console import Console

    from agent.bench.demo import run_demo

    out = tmp_path / "demo"
    for _run in (1, 2):
        console = Console(record=True, width=160)
        run_demo(LLMConfig(backend="local-small"), out, console, env_id="twx-twc", train=2, test=2, max_steps=6,
                 chat=scripted(200))  # fmt: skip
        text = console.export_text()
        assert "games it never trained on (seeds 300-301; trained on [0, 1])" in text
        assert "without memory" in text and "steps chosen by" in text
        rows = [line for line in text.splitlines() if line.startswith(("│ 300", "│ 301"))]
        assert len(rows) == 2 and all(("won" in r or "lost" in r) for r in rows), text
        assert re.search(r"│ won\s+│ \d/2\s+│ \d/2\s+│ random agent: \d/2", text), text
        assert "evolve memory list --memory-dir" in text and "evolve bench twx-twc --train 30" in text
        assert "memories in all" in text
    assert (tmp_path / "demo.previous" / "results.json").is_file() and (out / "results.json").is_file()


def test_reflect_batches_fit_the_context_and_take_every_pending_experience(tmp_path: Path) -> None:
    from agent.learning.evolve import reflect_batch
    from memory import MemoryInput, reflect
    from tests.memory.fakes import ScriptedJsonLLM, hash_embed

    assert reflect_batch([200] * 30, 1800) == 9 and reflect_batch([5000], 1800) == 1 and reflect_batch([], 1800) == 1
    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        bank.insert_many([MemoryInput(text=f"Start: kitchen {i}\ntook apple {i} -> won", namespace="env:twc")
                          for i in range(20)])  # fmt: skip
        size = reflect_batch(bank.view.unreflected_tokens("env:twc"), 60)
        batches = -(-20 // size)
        report = reflect(bank, ScriptedJsonLLM([{"operations": []}] * batches), namespace="env:twc",
                         steps=["insights"], batch_size=size, max_batches=None)  # fmt: skip
        assert report.batches == batches > 1 and report.experiences_reflected == 20
        assert bank.view.unreflected_tokens("env:twc") == []
