"""Action shortlisting: relevance, verb caps, kept actions, determinism."""

from __future__ import annotations

import pytest

from envs.shortlist import after_verb, shortlist_actions, verb_of

ACTIONS = (
    [f"move {o} to {d}" for o in ("picture", "orange", "chair") for d in ("kitchen", "hallway", "bedroom")]
    + [f"focus on {o}" for o in ("picture", "orange", "red box", "air")]
    + ["teleport to kitchen", "teleport to bedroom", "look around", "inventory", "wait", "eat orange"]
)
TASK = (
    "Your task is to find a(n) living thing. First, focus on the thing. "
    "Then, move it to the red box in the kitchen."
)


def test_verb_of() -> None:
    assert verb_of("pick up red box") == "pick up"
    assert verb_of("focus on air") == "focus on"
    assert verb_of("frobnicate x") == "frobnicate"


def test_after_verb_skips_a_two_word_verb_phrase() -> None:
    assert after_verb("Pick  up red box") == "red box"
    assert after_verb("put white onion in fridge") == "white onion in fridge"
    assert after_verb("look around") == "" and after_verb("") == ""


def test_shortlist_is_relevant_capped_and_deterministic() -> None:
    short = shortlist_actions(
        ACTIONS, task=TASK, observation="You are in the hallway.", k=8, keep=("look around", "inventory")
    )
    assert len(short) == 8
    assert short[:2] == ("look around", "inventory")
    assert "focus on red box" in short
    assert "teleport to kitchen" in short
    assert sum(a.startswith("move ") for a in short) <= 2  # per-verb cap: max(2, 8 // 4)
    assert set(short) <= set(ACTIONS)
    again = shortlist_actions(
        ACTIONS, task=TASK, observation="You are in the hallway.", k=8, keep=("look around", "inventory")
    )
    assert short == again


def test_shortlist_returns_everything_when_small() -> None:
    assert shortlist_actions(ACTIONS[:3], task=TASK, observation="", k=10) == tuple(ACTIONS[:3])


def test_shortlist_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        shortlist_actions(ACTIONS, task=TASK, observation="", k=0)
