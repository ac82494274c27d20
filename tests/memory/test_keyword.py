"""The keyword index: tokenizer, stemmer, incremental updates."""

from __future__ import annotations

import pytest

from memory.keyword import KeywordIndex, stem, tokenize


@pytest.mark.parametrize(
    ("word", "expected"),
    [("painting", "paint"), ("painted", "paint"), ("paints", "paint"), ("researching", "research"),
     ("stories", "story"), ("running", "run"), ("went", "go"), ("kids", "kid"), ("glass", "glass")],
)  # fmt: skip
def test_stemmer(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_tokenize_drops_stop_words_and_possessives() -> None:
    assert tokenize("What did Caroline's kids paint? I'm sure") == ["carolin", "kid", "paint", "sur"]


def test_incremental_updates_match_a_rebuild() -> None:
    docs = [("a", "we painted a sunset over the lake"), ("b", "camping at the beach"), ("c", "a horse painting")]
    index = KeywordIndex()
    index.rebuild(docs[:2])
    index.add([docs[2]])
    index.remove(["b"])
    hits = index.query("who painted the horse", 5)
    assert hits.top_ids[0] == "c" and "b" not in hits.scores and len(index) == 2
    fresh = KeywordIndex()
    fresh.rebuild([docs[0], docs[2]])
    assert fresh.query("who painted the horse", 5).top_ids == hits.top_ids
    assert hits.score("a") > 0 and hits.score("zzz") == 0


def test_empty_index_and_empty_query() -> None:
    index = KeywordIndex()
    assert index.query("anything", 5).top_ids == []
    index.rebuild([("a", "text")])
    assert index.query("the of and", 5).top_ids == []
