"""Conversation memory: the LoCoMo / MemoryBank loader and the session-by-session question environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import envs
from envs.conversation import NOT_MENTIONED, load_locomo, load_memorybank
from envs.conversation_env import ConversationEnv


def test_load_locomo_structure(locomo_dir: Path) -> None:
    convs = load_locomo(locomo_dir)
    assert [c.conv_id for c in convs] == ["26", "30"]
    c26 = convs[0]
    assert (c26.speaker_a, c26.speaker_b, c26.source) == ("Caroline", "Melanie", "locomo")
    assert len(c26.sessions) == 19 and sum(len(s.turns) for s in c26.sessions) == 419
    assert len(c26.qa) == 199 and {q.category for q in c26.qa} == {1, 2, 3, 4, 5}
    first = c26.sessions[0]
    assert first.index == 1 and first.date_time == "1:56 pm on 8 May, 2023"
    assert first.turns[0].dia_id == "D1:1" and first.turns[0].speaker == "Caroline"
    assert any(t.image_caption for t in c26.turns())
    by_id = c26.turn_by_id()
    resolved = [e in by_id for q in c26.qa for e in q.evidence]
    assert (
        len(by_id) == 419 and sum(resolved) / len(resolved) > 0.95
    )  # a few evidence ids in the data are malformed
    adversarial = [q for q in c26.qa if q.category == 5]
    assert all(q.gold == NOT_MENTIONED for q in adversarial) and adversarial[0].adversarial_answer
    assert all(isinstance(q.answer, str) for q in c26.qa if q.category != 5)  # ints in the data become text


def test_load_locomo_single_file_and_released_list_format(locomo_dir: Path, tmp_path: Path) -> None:
    single = load_locomo(locomo_dir / "30.json")
    assert len(single) == 1 and single[0].conv_id == "30"
    raw = json.loads((locomo_dir / "30.json").read_text())
    released = [
        {"sample_id": "conv-30", "conversation": {k: v for k, v in raw.items() if k != "qa"}, "qa": raw["qa"]}
    ]
    (tmp_path / "locomo10.json").write_text(json.dumps(released))
    convs = load_locomo(tmp_path / "locomo10.json")
    assert (
        convs[0].conv_id == "conv-30"
        and convs[0].qa == single[0].qa
        and convs[0].sessions == single[0].sessions
    )


def test_load_memorybank(memorybank_dir: Path) -> None:
    users = load_memorybank(memorybank_dir)
    assert len(users) == 15
    emily = users[0]
    assert emily.conv_id == "Emily" and emily.speaker_b == "AI" and emily.source == "memorybank"
    assert emily.sessions[0].date_time == "2023-04-27" and emily.sessions[0].turns[0].speaker == "Emily"
    assert len(emily.qa) == 7 and all(q.answer is None and q.category == 0 for q in emily.qa)
    assert {u.conv_id for u in users} >= {"Jason", "Roland"}  # names are stripped of stray spaces
    assert sum(len(u.qa) for u in users) > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("not json", "is not valid JSON"),
        ('{"qa": []}', "has no speaker_a/speaker_b"),
        ('{"speaker_a": "A", "speaker_b": "B", "qa": []}', "has no non-empty session_N"),
        ('{"sample_id": "x", "conversation": 5, "qa": []}', "'conversation' is 5, not an object"),
        ('{"speaker_a": "A", "speaker_b": "B", "qa": "abc"}', "'qa' must be a list of objects, got 'abc'"),
        ('{"speaker_a": "A", "speaker_b": "B", "session_1": [1, 2]}', "session_1 must be a list of turn objects"),
    ],
)
def test_bad_locomo_paths_name_path_and_format(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "conv.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(envs.EnvUsageError, match=message) as info:
        load_locomo(path)
    assert "expected a LoCoMo JSON file" in str(info.value)


@pytest.mark.parametrize("category", ['"notint"', "7", "true", "[1]", "2.5"])
def test_a_question_with_a_bad_category_is_named(tmp_path: Path, category: str) -> None:
    path = tmp_path / "conv.json"
    path.write_text('{"speaker_a": "A", "speaker_b": "B", "session_1": [{"speaker": "A", "text": "hi"}], '
                    f'"qa": [{{"question": "q?", "answer": "a", "category": {category}}}]}}')  # fmt: skip
    with pytest.raises(envs.EnvUsageError, match="question 0: category .* is not a LoCoMo category"):
        load_locomo(path)


def test_bad_memorybank_path(tmp_path: Path) -> None:
    with pytest.raises(envs.EnvUsageError, match="holds no memory_bank"):
        load_memorybank(tmp_path)


def test_locomo_env_contract_and_gold_replay(locomo_dir: Path) -> None:
    env = envs.make("locomo", path=str(locomo_dir))
    envs.check_env(env)
    envs.check_env(env, seed=1)
    assert env.seeds() == (0, 1)


def test_locomo_episode_feeds_sessions_then_asks(locomo_dir: Path) -> None:
    env = envs.make("locomo", path=locomo_dir, max_questions=5)
    assert isinstance(env, ConversationEnv)
    obs = env.reset(seed=0)
    assert obs.text.startswith("Session 1 (1:56 pm on 8 May, 2023):\n[D1:1] Caroline:")
    assert (
        obs.valid_actions == ("next",)
        and obs.info["phase"] == "session"
        and obs.info["task_type"] == "locomo"
    )
    n = len(env.conversation.sessions)
    for _ in range(n - 1):
        res = env.step("next")
        assert res.info["phase"] == "session" and res.reward == 0.0
    res = env.step("next")
    assert res.info["phase"] == "question" and res.observation.startswith(
        f"All {n} sessions have been shown."
    )
    assert res.valid_actions == ()
    q = env.questions[0]
    good = env.step(q.answer or "")
    assert good.reward == pytest.approx(1.0) and good.info["gold"] == q.gold and good.info["evidence"]
    bad = env.step("no idea at all")
    assert bad.reward == pytest.approx(0.0)
    for _ in range(3):
        last = env.step("x")
    assert last.terminated and last.score == pytest.approx(1 / 5) and not last.success
    assert len(env.answers) == 5


def test_adversarial_questions_are_reported_apart(locomo_dir: Path) -> None:
    env = envs.make("locomo", path=locomo_dir / "30.json", categories=[5], max_questions=2)
    env.reset()
    for _ in env.conversation.sessions:
        env.step("next")
    right = env.step("Not mentioned in the conversation")
    assert right.reward == 1.0 and right.info["adversarial_accuracy"] == 1.0 and right.score == 0.0
    wrong = env.step(env.questions[1].adversarial_answer or "yes")
    assert wrong.reward == 0.0 and wrong.info["adversarial_accuracy"] == 0.5 and wrong.terminated


def test_held_out_split_hides_gold_and_seed_cuts(locomo_dir: Path) -> None:
    train = envs.make("locomo", path=locomo_dir, seeds=[0])
    test = envs.make("locomo", split="test", path=locomo_dir, seeds=[1], max_questions=1)
    assert set(train.seeds()).isdisjoint(test.seeds())
    test.reset(seed=1)
    with pytest.raises(envs.EnvUsageError, match="only available on the train split"):
        test.gold_actions()
    for _ in test.conversation.sessions:
        res = test.step("next")
    res = test.step("anything")
    assert "gold" not in res.info and "evidence" not in res.info
    with pytest.raises(envs.EnvUsageError, match="not served"):
        test.reset(seed=0)


def test_memorybank_env_records_answers_without_reward(memorybank_dir: Path) -> None:
    env = envs.make("memorybank", path=memorybank_dir / "memory_bank_en.json")
    envs.check_env(env)
    obs = env.reset(seed=0)
    assert "Emily" in obs.task and obs.text.startswith("Session 1 (2023-04-27):")
    for _ in env.conversation.sessions:
        env.step("next")
    res = env.step("a science fiction movie")
    assert res.reward == 0.0 and res.info["answer"] == "a science fiction movie" and not res.success
    assert env.answers[0][1] == "a science fiction movie"
    assert env.gold_actions() is None


def test_conversation_env_bad_input(locomo_dir: Path) -> None:
    with pytest.raises(envs.EnvUsageError, match="locomo needs path="):
        envs.make("locomo")
    with pytest.raises(envs.EnvUsageError, match="allowed values are 1, 2, 3, 4, 5"):
        envs.make("locomo", path=locomo_dir, categories=[6])
    with pytest.raises(envs.EnvUsageError, match="does not exist"):
        envs.make("locomo", path=locomo_dir / "missing.json")
