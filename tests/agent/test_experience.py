"""What an episode retrieves: fact quotas (what earned points first), notes of other tasks kept apart,
and recall counted only for the memories shown (real bank: embedded Chroma and ledger, stand-in embedder)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from agent.core.prompting import memory_block
from agent.families.textworld.plugin import TextWorld
from agent.families.textworld.recalled import recalled
from agent.learning.recall import FACT_QUOTAS, retrieve_context
from memory import MemoryBank, MemoryConfig, MemoryInput, MemoryKind
from tests.memory.fakes import hash_embed

recall = functools.partial(retrieve_context, family=TextWorld())
"""Recall with the TextWorld plug-in."""

NS = "env:twx-twc"
OBSERVATION = "You are in the bathroom. You see a closed trash can, a sink and a bath tub. You see a used tissue."
PLACES = ["sink", "bath tub", "shower", "towel rack", "wall hook", "toilet roll holder", "dressing table", "bath mat",
          "medicine cabinet", "laundry basket", "shelf", "window sill"]  # more losses than a whole k=10 fact list


def fact(action: str, reward: float, enabled: str = "") -> MemoryInput:
    verdict = "earned points (accepted)" if reward > 0 else "lost points (wrong)"
    text = f"{action} → needed before {enabled} (earned points)" if enabled else f"{action} → {verdict}"
    meta = {"action": action, "reward": reward, **({"enabled": enabled} if enabled else {})}
    return MemoryInput(text=text, kind=MemoryKind.FACT, namespace=NS, meta=meta)


def test_facts_that_earned_points_are_not_crowded_out_by_losses(tmp_path: Path) -> None:
    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        bank.insert_many([fact(f"put used tissue in {p}", -1.0) for p in PLACES])
        good = bank.insert_many([fact("put used tissue in trash can", 1.0),
                                 fact("open trash can", 0.0, enabled="put used tissue in trash can"),
                                 fact("put brush in bathroom cabinet", 1.0)])  # fmt: skip
        note = bank.insert("You should put the used tissue in the wall hook.", MemoryKind.REFLECTION, NS)
        context = recall(bank, task="Tidy up.", observation=OBSERVATION, namespace=NS,
                                   kinds=(MemoryKind.FACT, MemoryKind.REFLECTION), record=True,
                                   same_task_reflections=("this very task: try the trash can",))  # fmt: skip
        # the two facts about the object in view first, then its losses (at most 6), not the brush's
        assert set(context.facts[:2]) == {"put used tissue in trash can → earned points (accepted)",
                                          "open trash can → needed before put used tissue in trash can (earned points)"}
        losses = context.facts[2:]
        assert len(losses) == FACT_QUOTAS["lost here"] and all("lost points" in f for f in losses)
        # what earned points with other objects only shows when memory knows nothing about the ones in view
        elsewhere = recall(bank, task="Tidy up.", observation="You see a toothpaste.", namespace=NS,
                                     kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert len(elsewhere.facts) == FACT_QUOTAS["earned elsewhere"]
        # an action memory only saw earn is tagged wherever it is offered (a put is offered once the object is
        # held); the step that enabled it is not, away from its object
        assert elsewhere.rewarded_actions == {"put used tissue in trash can", "put brush in bathroom cabinet"}
        assert all("earned points" in f for f in elsewhere.facts)
        assert context.rewarded_actions == elsewhere.rewarded_actions | {"open trash can"}
        assert len(context.penalised_actions) == FACT_QUOTAS["lost here"]
        # another task's note is not presented as a note on this task
        assert context.reflections == ("this very task: try the trash can",)
        assert context.similar_notes == ("You should put the used tissue in the wall hook.",)
        block = memory_block(context, 700)
        assert block.index("THIS task") < block.index("Facts") < block.index("similar tasks (they may not apply")
        # recall is counted for what was shown, not for every candidate looked at
        shown = set(context.memory_ids)
        assert set(good[:2]) | {note} <= shown and len(shown) == 2 + FACT_QUOTAS["lost here"] + 1
        counts = {r.id: r.recall_count for r in bank.memories(namespace=NS)}
        assert all(counts[i] == (1 if i in shown else 0) for i in counts)
        recall(bank, task="Tidy up.", observation=OBSERVATION, namespace=NS, kinds=(MemoryKind.FACT,),
                         record=False)  # fmt: skip
        assert {r.id: r.recall_count for r in bank.memories(namespace=NS)} == counts
        # the placings memory only saw earn rank places for objects it cannot place; none without facts
        assert recalled(context).likeness is not None and recalled(context).likeness.placed == {
            "used tissue": {"trash can"}, "brush": {"bathroom cabinet"}}  # fmt: skip
        notes_only = recall(bank, task="Tidy up.", observation=OBSERVATION, namespace=NS,
                                      kinds=(MemoryKind.REFLECTION,), record=False)  # fmt: skip
        assert recalled(notes_only).likeness is None
        # every fact saying an action earned points is known by id, for the steps memory takes
        assert dict(elsewhere.earned_ids) == {"put used tissue in trash can": (good[0],),
                                              "put brush in bathroom cabinet": (good[2],)}  # fmt: skip


def test_an_action_memory_saw_both_earn_and_end_a_game_is_shown_but_not_tagged(tmp_path: Path) -> None:
    ns = "env:twx-cookingworld"
    first = "You are in the kitchen. You see a closed fridge, an oven, a stove and a toaster."
    recipe = "Ingredients: chicken wing. Directions: roast the chicken wing, prepare meal."

    def cooked(action: str, reward: float, fatal: bool) -> MemoryInput:
        verdict = "ended the game (lost)" if fatal else "earned points (accepted)"
        # as the agent writes them: cooking is a way of processing its recipe asks for (agent.families.textworld.howto)
        meta = {"action": action, "reward": reward, "processing": True, **({"fatal": True} if fatal else {})}
        return MemoryInput(text=f"{action} → {verdict}", kind=MemoryKind.FACT, namespace=ns, meta=meta)

    with MemoryBank(MemoryConfig(path=tmp_path / "bank"), embed=hash_embed) as bank:
        bank.insert_many([cooked("cook chicken wing in toaster", 1.0, False),  # a game whose recipe said grill
                          cooked("cook chicken wing in toaster", 0.0, True),  # one whose recipe said roast
                          cooked("cook chicken wing in oven", 0.0, True),
                          cooked("cook chicken wing in stove", 1.0, False)])  # fmt: skip
        # at the start nothing in view is about the chicken wing: no fact tags an action (not even the stove, which
        # only earned: cooking is for the recipe to decide)
        start = recall(bank, task="Cook.", observation=first, namespace=ns, kinds=(MemoryKind.FACT,),
                                 record=False)  # fmt: skip
        assert not start.rewarded_actions and not start.penalised_actions
        # retrieved again after the recipe: "seen" holds the whole episode, the query the new observation
        again = recall(bank, task="Cook.", observation=recipe, seen=f"{first}\n{recipe}", namespace=ns,
                                 kinds=(MemoryKind.FACT,), record=False)  # fmt: skip
        assert len(again.facts) == 4
        assert again.rewarded_actions == {"cook chicken wing in stove"}
        assert again.penalised_actions == {"cook chicken wing in oven"}  # an action that ended a game is a loss
        # the toaster earned in one game and ended another: both facts shown, the action tagged neither way
        assert "cook chicken wing in toaster" not in again.rewarded_actions | again.penalised_actions


def test_a_reflection_is_decoded_bounded_but_a_longer_reply_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # unbounded, the 1.5B model's reflections ran past max_tokens and came back as unterminated JSON
    import json

    import agent.learning.reflection as experience
    from agent.core.trajectory import Episode, StepRecord
    from tests.fakes import ScriptedChatModel

    constraints: list[dict[str, Any] | None] = []
    real = experience.complete_json

    def spy(*args: Any, **kwargs: Any) -> Any:
        constraints.append(kwargs.get("constrain"))
        return real(*args, **kwargs)

    monkeypatch.setattr(experience, "complete_json", spy)
    long = "Open the fridge before taking the chicken wing, then grill it with the toaster. " * 10
    chat = ScriptedChatModel().enqueue(json.dumps({"text": long}))
    episode = Episode(env_id="twx-cookingworld", split="train", seed=0, task_type="", task="cook",
                      first_observation="kitchen", steps=[StepRecord("examine oven", "An oven.")])  # fmt: skip
    assert experience.write_reflection(chat, episode) == long.strip()  # validated unbounded: kept whole
    assert constraints[0] is not None and constraints[0]["properties"]["text"]["maxLength"] == 600
    assert episode.counters.llm_calls == 1


def test_a_note_that_repeats_its_prompt_is_refused() -> None:
    # stored before this check: "You are in the kitchen. In one part of the room you see a stove. ..." (the start
    # observation copied as a STaR rationale) and echoes of the instruction itself
    import json

    from agent.core.trajectory import Episode, StepRecord
    from agent.errors import ModelOutputError
    from agent.learning.reflection import echo_share, write_reflection
    from tests.fakes import ScriptedChatModel

    start = "You are in the kitchen. In one part of the room you see a stove. There is also an oven and a fridge."
    episode = Episode(env_id="twx-cookingworld", split="train", seed=0, task_type="", task="cook a meal",
                      first_observation=start, steps=[StepRecord("examine oven", "An oven.")])  # fmt: skip
    copied = "You are in the kitchen. In one part of the room you see a stove. There is also an oven."
    echo = "In one or two sentences, say concretely what went wrong and what to do differently next time."
    own = "Open the fridge first: the chicken wing was inside it, and the oven cooks it."
    for reply in (copied, echo):
        chat = ScriptedChatModel().enqueue(json.dumps({"text": reply}))
        with pytest.raises(ModelOutputError, match="repeats its prompt"):
            write_reflection(chat, episode, gold=["open fridge", "take chicken wing"] if reply is copied else None)
    chat = ScriptedChatModel().enqueue(json.dumps({"text": own}))
    assert write_reflection(chat, episode) == own
    assert echo_share(own, start) == 0.0 and echo_share(copied, start) == 1.0
