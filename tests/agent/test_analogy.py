"""Placing by analogy: which objects are alike, and which offered placings follow from what earned points."""

from __future__ import annotations

import pytest

from agent.families.textworld.analogy import alike, analogous, grounds
from agent.families.textworld.grammar import Placing, placing


def test_placing_splits_verb_object_and_place() -> None:
    assert placing("put dirty white blazer in laundry basket") == Placing("put", "dirty white blazer", "laundry basket")
    assert placing("Put  Apple on table") == Placing("put", "apple", "table")
    assert placing("take apple") is None and placing("put apple") is None and placing("open fridge") is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("dirty white blazer", "dirty brown blazer", True),  # colour differs
        ("gray golf shoes", "blue golf shoes", True),
        ("fleece jacket", "leather jacket", True),
        ("dirty pot", "clean pot", False),  # state decides where it goes
        ("white tuna", "rotten red tuna", False),
        ("white onion", "white onion", False),  # the same object: memory knows it, no analogy needed
        ("dirty white blazer", "dirty white shirt", False),  # another head noun
        ("striped silk scarf", "scarf", False),  # two modifiers against none
        ("red checkered shirt", "blue striped shirt", False),  # two modifiers differ
    ],
)
def test_alike(a: str, b: str, expected: bool) -> None:
    assert alike(a, b) is expected and alike(b, a) is expected


def test_analogous_needs_the_same_verb_and_place_and_an_object_memory_never_placed() -> None:
    earned = ["put dirty brown blazer in laundry basket", "put white onion in shelf", "take dirty brown blazer",
              "put gray cap on hat rack"]  # fmt: skip
    options = ["put dirty white blazer in wardrobe", "put dirty white blazer in laundry basket",
               "put yellow onion in fridge", "put yellow onion in shelf", "put white onion in fridge",
               "put black cap in hat rack", "take dirty white blazer"]  # fmt: skip
    assert analogous(options, earned) == ["put dirty white blazer in laundry basket", "put yellow onion in shelf",
                                          "put black cap in hat rack"]  # "in" or "on" the hat rack: the same place
    assert analogous(options, []) == []


def test_the_grounds_of_an_analogy_are_the_earned_placings_it_follows() -> None:
    earned = ["put dirty brown blazer in laundry basket", "put dirty gray blazer in laundry basket",
              "put clean brown blazer in wardrobe", "put dirty brown blazer in wardrobe"]  # fmt: skip
    assert grounds("put dirty white blazer in laundry basket", earned) == earned[:2]
    assert grounds("put clean white blazer in wardrobe", earned) == ["put clean brown blazer in wardrobe"]
    assert grounds("take dirty white blazer", earned) == grounds("put white onion in shelf", earned) == []
