"""The stability-plasticity gate's logic with scripted parts: what each arm shows, the shared arm, decisions, cost;
a bench whose model is misled by one rule refuses it and admits the other; credit from what a step earned."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from langchain_core.messages import BaseMessage
from typer.testing import CliRunner

from agent.bench.config import BenchConfig
from agent.bench.runner import run_bench
from agent.cli.memory_cmd import memory_app
from agent.core.context import MemoryContext
from agent.core.runlog import RunLog
from agent.core.state import ActorConfig
from agent.core.trajectory import Episode, StepRecord
from agent.learning.config import EvolutionConfig
from agent.learning.gate import Gate
from agent.llm import LLMConfig
from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind, MemoryStatus
from tests.agent.test_evolve import gold_player
from tests.fakes import ScriptedChatModel
from tests.memory.fakes import hash_embed

NS = "env:twx-twc"
MISLEADING = "when you see the {place}, look at every other thing first"


def _episode(seed: int, won: bool, steps: int) -> Episode:
    e = Episode(env_id="x", split="train", seed=seed, task_type="t", task="task", first_observation="room",
                success=won, score=1.0 if won else 0.0)  # fmt: skip
    e.steps = [StepRecord(action="a", observation="o") for _ in range(steps)]
    e.counters.llm_calls = steps
    e.seconds = 0.5 * steps
    return e


def test_a_pass_shows_each_rule_to_one_arm_and_shares_the_arm_without_candidates(tmp_path: Path) -> None:
    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed)
    good, bad = bank.insert_many([MemoryInput(text=t, kind=MemoryKind.INSIGHT, namespace=NS, candidate=True)
                                  for t in ("take the knife before slicing", "always walk west first")])  # fmt: skip
    kept = bank.insert("open the fridge when food is missing", MemoryKind.INSIGHT, NS)
    played: list[tuple[int, tuple[str, ...]]] = []

    def play(seed: int, edit: object) -> Episode:
        context = edit(MemoryContext(rules=("open the fridge when food is missing",), memory_ids=(kept,)))  # type: ignore[operator]
        played.append((seed, context.rules))
        return _episode(seed, "always walk west first" not in context.rules, 4)

    report = Gate(bank, NS, play, seeds=2, rules=5).run(lambda rule: [9, 9, 1, 2])
    decisions = {t["id"]: t["decision"] for t in report.trials}
    assert decisions == {good: "admitted", bad: "refused", kept: "kept"}
    assert [t["seeds"] for t in report.trials] == [[9, 1]] * 3
    base = ("open the fridge when food is missing",)
    assert played.count((9, base)) == 2  # once shared by both candidates, once for the active rule "with" it
    assert (9, ()) in played  # the active rule hidden
    assert report.episodes == len(played) == 2 + 2 + 2 + 2 + 2
    assert report.model_calls == 4 * report.episodes and report.as_dict()["seconds_per_admitted"] == 20.0
    assert bank.get(good).status is MemoryStatus.ACTIVE and bank.get(bad).status is MemoryStatus.CANDIDATE
    # a revision admitted first in a pass supersedes its rule, which is then not tried
    revision = bank.insert_many([MemoryInput(text="open the fridge and the freezer when food is missing",
                                             kind=MemoryKind.INSIGHT, namespace=NS, candidate=True,
                                             meta={"revises": kept})])[0]  # fmt: skip
    third = Gate(bank, NS, play, seeds=1, rules=5).run(lambda rule: [4])
    assert [t["id"] for t in third.trials] == [revision, good]
    assert bank.get(kept).status is MemoryStatus.SUPERSEDED
    # nothing changed since: the next pass tries only the active rules again
    again = Gate(bank, NS, play, seeds=1, rules=5).run(lambda rule: [3])
    assert {t["id"] for t in again.trials} == {good, revision}
    bank.close()


def misleading_policy(proposed: list[str]) -> Callable[[list[BaseMessage]], str]:
    """A scripted model for twc: reflection proposes two rules (recorded in ``proposed``), one of which misleads it
    (with that rule in its prompt it plays the last action offered); otherwise it plays by the book."""

    def policy(messages: list[BaseMessage]) -> str:
        text = messages[-1].text
        if "Current rules:" in text:
            if proposed:
                return json.dumps({"operations": []})
            put = re.search(r"put ([a-z ]+?) (?:in|on) ([a-z ]+?)(?= ->| \(|\n|$)", text)
            assert put, text
            thing, place = put.groups()
            proposed[:] = [f"take the {thing} and put it on the {place}", MISLEADING.format(place=place)]
            return json.dumps({"operations": [{"op": "ADD", "text": t, "evidence": ["E1", "E2"]} for t in proposed]})
        if proposed and proposed[1] in " ".join(m.text for m in messages):
            actions = [line[2:].split(" (")[0] for line in text.splitlines() if line.startswith("- ")]
            return json.dumps({"thought": "the rule says so", "action": actions[-1]})
        return gold_player(messages)

    return policy


def test_a_bench_refuses_the_rule_that_misleads_its_model_and_admits_the_other(tmp_path: Path) -> None:
    proposed: list[str] = []
    policy = misleading_policy(proposed)

    evolution = EvolutionConfig(trials=1, max_steps=8, reflect_every=2, forget_every=0, rationalize=False,
                                check_rules=False, gate_seeds=2)  # fmt: skip
    actor = ActorConfig(follow_memory=False, place_by_analogy=False, place_by_likeness=False)
    config = BenchConfig(env_id="twx-twc", preset="easy", train=2, test=1, settings=("in",),
                         ablations=("insights", "insights-ungated"), random_baseline=False, evolution=evolution,
                         actor=actor)  # fmt: skip
    chat = ScriptedChatModel().enqueue(*[policy] * 600)
    results = run_bench(LLMConfig(backend="local-small"), config, tmp_path, chat=chat)
    gate = results["reflect"]["gate"]
    assert (gate["passes"], gate["admitted"], gate["refused"]) == (1, 1, 1)
    assert gate["episodes"] == 2 + 2 + 2 and gate["model_calls"] > 0
    report = (tmp_path / "results.md").read_text()
    assert "1 admitted, 1 refused" in report and "training credit (rules by their paired trials" in report
    line = json.loads((tmp_path / "reflect.jsonl").read_text().splitlines()[-1])
    by_text = {t["text"]: t for t in line["gate"]["trials"]}
    misled = by_text[proposed[1]]
    assert misled["decision"] == "refused" and misled["verdict"] == "hurt"
    assert by_text[proposed[0]]["decision"] == "admitted"
    # the trial episodes ran at temperature 0, whatever the model's own settings (one call per step here)
    assert sum(kw.get("temperature") == 0.0 for kw in chat.kwargs_seen) == gate["model_calls"]
    with MemoryBank(MemoryConfig(path=tmp_path / "memory")) as bank:
        active = {r.text for r in bank.memories([MemoryKind.INSIGHT], NS)}
        waiting = bank.memories([MemoryKind.INSIGHT], NS, MemoryStatus.CANDIDATE)
    assert active == {proposed[0]} and [r.text for r in waiting] == [proposed[1]]
    # held out: `insights` shows the admitted rule only, `insights-ungated` every rule reflection wrote
    shown_in = {e.tag: set(e.memory_ids) for e in RunLog.open(tmp_path / "episodes.jsonl").episodes}
    assert waiting[0].id not in shown_in["in/insights"] and waiting[0].id in shown_in["in/insights-ungated"]
    shown = CliRunner().invoke(memory_app, ["show", waiting[0].id, "--memory-dir", str(tmp_path / "memory")])
    assert shown.exit_code == 0, shown.output
    assert "CANDIDATE" in shown.output and re.search(r"trial \d+ .*refused \(hurt\) on seeds", shown.output)
    listed = CliRunner().invoke(memory_app, ["list", "--kind", "insight", "--status", "all", "--sort", "utility",
                                             "--json", "--memory-dir", str(tmp_path / "memory")])  # fmt: skip
    assert [m["text"] for m in json.loads(listed.output)["memories"]] == proposed  # admitted (.5) before refused (< .5)


def test_credit_goes_to_what_a_step_stood_on_by_what_it_earned(tmp_path: Path) -> None:
    from agent.learning.evolve import Evolver

    bank = MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed)
    shown, earned, idle = bank.insert_many([MemoryInput(text=t, kind=MemoryKind.FACT, namespace=NS)
                                            for t in ("a shown fact", "take knife earned points", "wait did nothing")])
    episode = _episode(1, True, 0)
    episode.memory_ids = [shown, earned, idle]
    episode.steps = [StepRecord("take knife", "taken", reward=1.0, used=(earned,)),
                     StepRecord("wait", "nothing", used=(idle,)), StepRecord("look", "a room")]  # fmt: skip
    evolver = Evolver.__new__(Evolver)
    evolver.bank, evolver.config = bank, EvolutionConfig()
    evolver.credit(episode)
    counts = {m: (bank.get(m).utility_sum, bank.get(m).utility_count) for m in (shown, earned, idle)}
    assert counts == {shown: (0.0, 0), earned: (1.0, 1), idle: (0.0, 1)}
    evolver.config = EvolutionConfig(credit_shown=True)  # as benches saved before resume
    evolver.credit(episode)
    assert bank.get(shown).utility_count == 1 and bank.get(shown).utility_sum == 1.0
    bank.close()
