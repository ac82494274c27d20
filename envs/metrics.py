"""Answer scoring shared by the question-answering environments.

* :func:`token_f1` is the SQuAD/LoCoMo token-overlap F1 (lower-case, punctuation and articles removed).
  LoCoMo's own script also Porter-stems tokens; we do not (no extra dependency), so scores can be a
  little lower than the paper's on inflected words.
* :func:`locomo_score` applies LoCoMo's per-category rules: multi-hop answers (category 1) are split on
  commas and each gold part is matched to its best predicted part; open-domain answers (category 3)
  keep only the part before ``;``; adversarial questions (category 5) score 1 when the answer abstains.
* :func:`exact_answer` compares short answers exactly after a light normalisation (case, whitespace,
  an ``Answer:`` prefix, a trailing full stop, thousands separators, and ``42.0 == 42``).
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = set(string.punctuation)
ABSTAIN_PHRASES: tuple[str, ...] = (
    "not mentioned",
    "no information available",
    "no information",
    "not available",
    "unknown",
    "cannot be answered",
    "can't be answered",
    "not answerable",
)
"""Answers containing one of these count as abstaining (LoCoMo category 5: the right move)."""


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, articles and extra whitespace (SQuAD/LoCoMo normalisation).

    Args:
        text: A predicted or gold answer.

    Returns:
        The normalised answer.
    """
    text = str(text).lower().replace(",", "")
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 between a prediction and a gold answer, in 0..1.

    Args:
        prediction: The answer given.
        gold: The reference answer.

    Returns:
        F1 of the normalised token multisets; 1.0 when both are empty, 0.0 when only one is.
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def multi_answer_f1(prediction: str, gold: str) -> float:
    """F1 for list answers: each comma-separated gold part is matched to its best predicted part.

    Args:
        prediction: The answer given (parts separated by commas).
        gold: The reference answer (parts separated by commas).

    Returns:
        The mean over gold parts of the best token F1 against any predicted part.
    """
    preds = [p.strip() for p in str(prediction).split(",") if p.strip()] or [""]
    golds = [g.strip() for g in str(gold).split(",") if g.strip()] or [""]
    return sum(max(token_f1(p, g) for p in preds) for g in golds) / len(golds)


def abstains(prediction: str) -> bool:
    """True when the answer declines to answer (says the conversation does not mention it).

    Args:
        prediction: The answer given.

    Returns:
        Whether one of :data:`ABSTAIN_PHRASES` occurs in the lower-cased answer.
    """
    low = str(prediction).lower()
    return any(phrase in low for phrase in ABSTAIN_PHRASES)


def locomo_score(prediction: str, gold: str | None, category: int) -> float:
    """Score one LoCoMo answer by the rules of its category.

    Args:
        prediction: The answer given.
        gold: The gold answer (ignored for category 5, whose right answer is to abstain).
        category: LoCoMo category, 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial.

    Returns:
        A score in 0..1.
    """
    if category == 5:
        return float(abstains(prediction))
    gold_text = "" if gold is None else str(gold)
    if category == 1:
        return multi_answer_f1(prediction, gold_text)
    if category == 3:
        gold_text = gold_text.split(";")[0]
    return token_f1(prediction, gold_text)


_PREFIX = re.compile(r"^\s*(final answer|answer)\s*[:=]\s*", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def normalize_exact(text: str) -> str:
    """Normalise a short answer for exact comparison.

    Strips whitespace and an ``Answer:`` prefix, lower-cases, removes a trailing full stop and thousands
    separators, and writes numbers in a canonical form (``42.0`` becomes ``42``).

    Args:
        text: A predicted or gold answer.

    Returns:
        The normalised answer.
    """
    out = _PREFIX.sub("", str(text)).strip().lower()
    out = out.rstrip(".").strip()
    out = _THOUSANDS.sub("", out)
    out = " ".join(out.split())
    try:
        number = float(out)
    except ValueError:
        return out
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def exact_answer(prediction: str, gold: str) -> bool:
    """True when the prediction equals the gold answer after :func:`normalize_exact`.

    Args:
        prediction: The answer given.
        gold: The reference answer.

    Returns:
        Whether the two are the same answer.
    """
    return normalize_exact(prediction) == normalize_exact(gold)
