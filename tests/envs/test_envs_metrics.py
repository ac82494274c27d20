"""Answer scoring: token F1, LoCoMo category rules, exact-answer normalisation."""

from __future__ import annotations

import pytest

from envs.metrics import (
    abstains,
    exact_answer,
    locomo_score,
    multi_answer_f1,
    normalize_answer,
    normalize_exact,
    token_f1,
)


def test_normalize_answer_drops_case_punctuation_and_articles() -> None:
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("7 May 2023", "7 May 2023", 1.0),
        ("May 2023", "7 May 2023", 0.8),
        ("nothing alike", "7 May 2023", 0.0),
        ("", "", 1.0),
        ("", "x", 0.0),
    ],
)
def test_token_f1(pred: str, gold: str, expected: float) -> None:
    assert token_f1(pred, gold) == pytest.approx(expected)


def test_multi_answer_f1_matches_each_gold_part() -> None:
    assert multi_answer_f1("pottery, camping", "camping, pottery") == pytest.approx(1.0)
    assert multi_answer_f1("pottery", "camping, pottery") == pytest.approx(0.5)


def test_locomo_categories() -> None:
    assert locomo_score("Transgender woman", "Transgender woman", 1) == 1.0
    assert locomo_score("Psychology", "Psychology; counseling", 3) == 1.0  # part before ';'
    assert locomo_score("Not mentioned in the conversation", None, 5) == 1.0
    assert locomo_score("Yes", None, 5) == 0.0
    assert abstains("There is no information available about that")


@pytest.mark.parametrize(
    ("pred", "gold", "same"),
    [
        ("Answer: 42", "42", True),
        ("42.0", "42", True),
        ("1,234", "1234", True),
        (" Wife. ", "wife", True),
        ("-4", "4", False),
        ("41", "42", False),
    ],
)
def test_exact_answer(pred: str, gold: str, same: bool) -> None:
    assert exact_answer(pred, gold) is same


def test_normalize_exact_keeps_non_numbers() -> None:
    assert normalize_exact("Mother-in-law") == "mother-in-law"
    assert normalize_exact("0.5") == "0.5"
