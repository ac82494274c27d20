"""Keyword (BM25) search over memories, one small index per kind and namespace.

Built with ``bm25s`` (numpy only; 100k documents index in about a second, a query takes under a
millisecond). Tokens are lower-cased words without English stop words, reduced by a light suffix
stemmer (``painted``, ``painting`` -> ``paint``; ``went`` -> ``go``), which on LoCoMo is worth several
points of recall over raw words. No stemming package is needed.

Inserts do not rebuild the index: new documents go to a small delta scored with the main index's
statistics, and removed ones are masked; the index is rebuilt when the delta grows past a share of
the main index, or when asked.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

# bm25s sets its own logger to DEBUG on import, which prints "Building index" lines through any
# application's root handler; its messages are only wanted as warnings.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_WORD = re.compile(r"[a-z0-9]+")  # "caroline's" -> caroline, s; "don't" -> don, t (both stop words)
# NLTK's English stop-word list (pronouns, auxiliaries, question words) plus bm25s's Lucene list.
_NLTK_STOP = """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that these those am
is are was were be been being have has had having do does did doing a an the and but if or because as until
while of at by for with about against between into through during before after above below to from up down in
out on off over under again further then once here there when where why how all any both each few more most
other some such no nor not only own same so than too very can will just don should now d ll m o re ve y ain
aren couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn"""
STOP_WORDS = frozenset(STOPWORDS_EN) | frozenset(_NLTK_STOP.split()) | {"'s", "s"}
"""Words left out of keyword search: bm25s's English list, NLTK's, and the possessive ``s``."""
_VOWEL = re.compile(r"[aeiouy]")
_IRREGULAR = {
    "went": "go", "gone": "go", "goes": "go", "ran": "run", "bought": "buy", "made": "make",
    "took": "take", "taken": "take", "saw": "see", "seen": "see", "met": "meet", "got": "get",
    "gotten": "get", "gave": "give", "given": "give", "found": "find", "felt": "feel", "told": "tell",
    "thought": "think", "kept": "keep", "began": "begin", "begun": "begin", "brought": "bring",
    "built": "build", "came": "come", "did": "do", "done": "do", "does": "do", "had": "have",
    "has": "have", "knew": "know", "known": "know", "lost": "lose", "paid": "pay", "said": "say",
    "sang": "sing", "sung": "sing", "sold": "sell", "sent": "send", "spent": "spend", "taught": "teach",
    "won": "win", "wrote": "write", "written": "write", "ate": "eat", "eaten": "eat", "drove": "drive",
    "driven": "drive", "flew": "fly", "flown": "fly", "children": "child", "men": "man", "women": "woman",
    "people": "person", "feet": "foot", "teeth": "tooth",
}  # fmt: skip


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English stemmer: plural, -ing, -ed, -ly and final -e, plus common irregular verbs."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3 or not word.isalpha():
        return word
    w = word
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ied", "ed"):
        if w.endswith(suffix):
            base = w[: -len(suffix)] + ("y" if suffix == "ied" else "")
            if len(base) >= 3 and _VOWEL.search(base[:-1]):
                if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                    base = base[:-1]
                w = base
            break
    if w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    return w


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed word tokens of ``text``."""
    out = []
    for token in _WORD.findall(text.lower()):
        if len(token) < 2 or token in STOP_WORDS:
            continue
        out.append(stem(token))
    return out


@dataclass
class KeywordHits:
    """BM25 scores of one query; higher is a better keyword match."""

    top_ids: list[str]
    """Ids of the best-scoring documents, best first (only documents with a positive score)."""
    scores: dict[str, float]
    """Score of every document with a positive score (others score 0)."""
    mean: float
    """Mean score over every document in the index (for standardising)."""
    std: float
    """Standard deviation of the scores over every document in the index."""
    _all: np.ndarray | None = None
    _index: KeywordIndex | None = None
    _delta_ids: list[str] | None = None

    def score(self, memory_id: str) -> float:
        """BM25 score of any document of the index (0 for unknown or non-matching ones)."""
        if memory_id in self.scores:
            return self.scores[memory_id]
        if self._all is None or self._index is None:
            return 0.0
        i = self._index._pos.get(memory_id)
        if i is not None and memory_id not in self._index._removed:
            return float(self._all[i])
        if self._delta_ids is not None and memory_id in self._index._delta:
            return float(self._all[len(self._index._ids) + self._delta_ids.index(memory_id)])
        return 0.0


class KeywordIndex:
    """BM25 index of (id, text) documents with cheap incremental inserts and removals."""

    def __init__(self, k1: float = 1.2, b: float = 0.75, rebuild_share: float = 0.2) -> None:
        self.k1 = k1
        self.b = b
        self.rebuild_share = rebuild_share
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._bm25: bm25s.BM25 | None = None
        self._df: np.ndarray = np.zeros(0)
        self._avgdl = 1.0
        self._delta: dict[str, Counter[str]] = {}
        self._removed: set[str] = set()

    def __len__(self) -> int:
        return len(self._ids) - len(self._removed & self._pos.keys()) + len(self._delta)

    def __contains__(self, memory_id: str) -> bool:
        return memory_id in self._delta or (memory_id in self._pos and memory_id not in self._removed)

    def rebuild(self, docs: Iterable[tuple[str, str]]) -> None:
        """Index ``(id, text)`` pairs from scratch."""
        ids, corpus = [], []
        for memory_id, text in docs:
            ids.append(memory_id)
            corpus.append(tokenize(text))
        self._ids = ids
        self._pos = {m: i for i, m in enumerate(ids)}
        self._delta = {}
        self._removed = set()
        if not ids:
            self._bm25 = None
            self._df = np.zeros(0)
            return
        bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        bm25.index(corpus, show_progress=False)
        self._bm25 = bm25
        self._df = np.diff(np.asarray(bm25.scores["indptr"]))
        lengths = [len(c) for c in corpus]
        self._avgdl = max(1.0, sum(lengths) / len(lengths))

    def add(self, docs: Iterable[tuple[str, str]]) -> None:
        """Add or replace documents without a rebuild (scored with the main index's statistics)."""
        for memory_id, text in docs:
            if memory_id in self._pos:
                self._removed.add(memory_id)
            self._delta[memory_id] = Counter(tokenize(text))

    def remove(self, ids: Iterable[str]) -> None:
        """Drop documents (masked until the next rebuild)."""
        for memory_id in ids:
            self._delta.pop(memory_id, None)
            if memory_id in self._pos:
                self._removed.add(memory_id)

    @property
    def needs_rebuild(self) -> bool:
        """True when the delta or the masked part has outgrown ``rebuild_share`` of the main index."""
        main = max(1, len(self._ids))
        return len(self._delta) + len(self._removed) > max(32, self.rebuild_share * main)

    def documents_changed(self) -> int:
        """How many documents sit in the delta or are masked."""
        return len(self._delta) + len(self._removed)

    def query(self, text: str, n: int) -> KeywordHits:
        """Score every document for ``text``; return the ``n`` best and the score statistics."""
        tokens = tokenize(text)
        total = len(self)
        if total == 0 or not tokens:
            return KeywordHits([], {}, 0.0, 0.0)
        main_scores = np.zeros(0)
        if self._bm25 is not None:
            vocab = self._bm25.vocab_dict
            token_ids = [vocab[t] for t in tokens if t in vocab]
            if token_ids:
                main_scores = np.asarray(self._bm25.get_scores_from_ids(token_ids), dtype=np.float64)
            else:
                main_scores = np.zeros(len(self._ids))
            if self._removed:
                mask = [self._pos[m] for m in self._removed]
                main_scores[mask] = 0.0
        delta_ids = list(self._delta)
        delta_scores = np.array([self._score_delta(self._delta[m], tokens) for m in delta_ids])
        all_scores = np.concatenate([main_scores, delta_scores]) if len(delta_ids) else main_scores
        live = total if total > 0 else 1
        mean = float(all_scores.sum() / live)
        var = float((all_scores**2).sum() / live - mean**2)
        std = math.sqrt(max(var, 0.0))
        n = min(n, len(all_scores))
        if n <= 0:
            return KeywordHits([], {}, mean, std, all_scores, self, delta_ids)
        top = np.argpartition(-all_scores, n - 1)[:n] if n < len(all_scores) else np.arange(len(all_scores))
        top = top[np.argsort(-all_scores[top], kind="stable")]
        id_at = self._ids
        top_ids, scores = [], {}
        n_main = len(main_scores)
        for i in top:
            s = float(all_scores[i])
            if s <= 0:
                break
            memory_id = id_at[i] if i < n_main else delta_ids[i - n_main]
            top_ids.append(memory_id)
            scores[memory_id] = s
        return KeywordHits(top_ids, scores, mean, std, all_scores, self, delta_ids)

    def _score_delta(self, tf: Counter[str], query: list[str]) -> float:
        n_docs = max(1, len(self._ids)) + len(self._delta)
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        dl = sum(tf.values())
        norm = self.k1 * (1 - self.b + self.b * dl / self._avgdl)
        score = 0.0
        for token in query:
            f = tf.get(token, 0)
            if not f:
                continue
            df = 1 + (int(self._df[vocab[token]]) if token in vocab else 0)
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            score += idf * f / (f + norm)
        return score
