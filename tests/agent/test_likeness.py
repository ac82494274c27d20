"""Placing by likeness: places ranked by how alike the objects memory put there are, and the step it leads to."""

from __future__ import annotations

import numpy as np

from agent.families.textworld.likeness import Embed, Likeness, guess, take_back

VECTORS = {"white tuna": (1.0, 0.0, 0.0), "chicken leg": (0.8, 0.6, 0.0), "wooden spoon": (0.0, 1.0, 0.0),
           "rotten red tuna": (1.0, 0.0, 0.0), "rotten banana": (0.6, 0.0, 0.8), "scarf": (0.0, 0.0, 1.0),
           "dirty strainer": (0.0, 0.0, 1.0)}  # fmt: skip


def fake_embed(texts: list[str]) -> np.ndarray:
    return np.array([VECTORS[t] for t in texts], dtype=np.float32)


EARNED = ("put chicken leg in fridge", "put wooden spoon in cutlery drawer", "put rotten red tuna in trash can",
          "take chicken leg", "open fridge")  # fmt: skip


def test_places_rank_by_the_most_alike_object_in_the_same_state() -> None:
    likeness = Likeness(EARNED, fake_embed)
    assert likeness.placed == {"chicken leg": {"fridge"}, "wooden spoon": {"cutlery drawer"},
                               "rotten red tuna": {"trash can"}}  # fmt: skip
    # the rotten tuna is the most alike, but rotten: it does not count for a fresh one
    assert [place for place, _ in likeness.places("white tuna")] == ["fridge", "cutlery drawer"]
    assert likeness.places("dirty strainer") == []  # no object in that state was placed
    assert [place for place, _ in likeness.places("rotten banana")] == ["trash can"]
    assert not Likeness(["take chicken leg"], fake_embed)


def test_vectors_are_computed_only_when_a_place_is_ranked() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return fake_embed(texts)

    likeness = Likeness(EARNED, counting)
    assert calls == []
    first = likeness.places("white tuna")
    assert likeness.places("white tuna") == first
    assert len(calls) == 2 and sorted(calls[0]) == sorted(likeness.placed)  # the placed objects, then the tuna, once
    likeness.places("scarf")
    assert len(calls) == 3 and calls[2] == ["scarf"]


def test_guess_opens_the_best_place_then_places_there_and_moves_on_when_tried() -> None:
    likeness = Likeness(EARNED, fake_embed)
    held = ["put white tuna in counter", "put white tuna in cutlery drawer", "open fridge", "look around"]
    assert guess(likeness, held) == "open fridge"  # closed: opened first
    assert guess(likeness, ["put white tuna in counter", "put white tuna in fridge"]) == "put white tuna in fridge"
    # the fridge was tried (not among the untried) and is not opened again: the next place
    assert guess(likeness, ["put white tuna in counter", "put white tuna in cutlery drawer"]) == (
        "put white tuna in cutlery drawer")  # fmt: skip
    # no place memory knows is here: the model chooses
    assert guess(likeness, ["put white tuna in counter", "look around"]) is None
    assert guess(likeness, ["take white tuna", "open fridge"]) is None  # nothing held: nothing to place


def test_the_grounds_of_a_guess_are_the_earned_placings_at_its_place() -> None:
    likeness = Likeness([*EARNED, "put rotten banana in fridge"], fake_embed)
    # a fresh object: the rotten banana's placing is not what ranked the fridge
    assert likeness.grounds("put white tuna in fridge") == ["put chicken leg in fridge"]
    assert likeness.grounds("open fridge") == ["put chicken leg in fridge", "put rotten banana in fridge"]
    assert likeness.grounds("take white tuna") == likeness.grounds("put white tuna in counter") == []


def test_the_real_embedding_model_puts_the_fresh_tuna_where_the_chicken_leg_went(embed: Embed) -> None:
    earned = ["put chicken leg in fridge", "put wooden spoon in cutlery drawer", "put rotten red tuna in trash can",
              "put long coat in coat hanger", "put black pepper in shelf", "put dirty brown blazer in laundry basket"]
    likeness = Likeness(earned, embed)
    # in the kitchen of twc seed 500 (no shelf, the fridge closed): the fridge first, opened before
    kitchen = ["put white tuna in counter", "put white tuna in cutlery drawer", "put white tuna in trash can",
               "open fridge", "open kitchen cupboard", "look around"]  # fmt: skip
    assert guess(likeness, kitchen) == "open fridge"
    hall = ["put scarf in hat rack", "put scarf in coat hanger", "put scarf in shoe cabinet"]
    assert guess(likeness, hall) == "put scarf in coat hanger"


def test_take_back_takes_the_object_a_placing_let_go_of() -> None:
    options = ["take white onion", "take knife from counter", "open fridge"]
    assert take_back("put white onion in kitchen cupboard", options) == "take white onion"
    assert take_back("put knife in cutlery drawer", options) == "take knife from counter"
    assert take_back("put apple in fridge", options) is None and take_back("open fridge", options) is None
