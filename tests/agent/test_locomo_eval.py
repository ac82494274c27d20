"""`evolve eval locomo`: recall@k and answer F1 against the no-memory and full-context baselines.

Logic tests use a small made-up LoCoMo conversation and the strict scripted chat model; one test runs
retrieval on the real LoCoMo conversation 26; one slow test answers with the real small local model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage
from typer.testing import CliRunner

from agent.cli.app import eval_app
from agent.evals.locomo import clean_answer, full_context_window, run_locomo_eval, sample_questions, to_dialogue
from agent.evals.locomo_report import LocomoEvalConfig
from agent.llm.config import BACKENDS, BackendChoice
from envs.conversation import NOT_MENTIONED, QA, load_locomo
from tests.fakes import ScriptedChatModel

runner = CliRunner()
SECRET = "SUMMARY-NEVER-SHOWN"


def _turn(session: int, n: int, speaker: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": f"D{session}:{n}", "text": text}


CONVERSATION = {
    "sample_id": "mini",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            _turn(1, 1, "Ana", "Hi Ben! How was your week?"),
            _turn(1, 2, "Ben", "Great! I adopted a puppy called Biscuit."),
            _turn(1, 3, "Ana", "So cute! What breed is it?"),
            _turn(1, 4, "Ben", "A beagle. He loves long walks in the park."),
        ],
        "session_2_date_time": "10:00 am on 25 May, 2023",
        "session_2": [
            _turn(2, 1, "Ana", "I started pottery classes last weekend."),
            _turn(2, 2, "Ben", "Nice! What did you make?"),
            _turn(2, 3, "Ana", "A blue bowl for my mother."),
            _turn(2, 4, "Ben", "I am training for a marathon in October."),
        ],
        "session_1_summary": SECRET,
        "session_1_observation": {"Ana": [[SECRET, "D1:1"]]},
    },
    "event_summary": {"events_session_1": [SECRET]},
    "qa": [
        {"question": "What is the name of Ben's dog?", "answer": "Biscuit", "evidence": ["D1:2"], "category": 4},
        {"question": "What breed is Ben's dog?", "answer": "beagle", "evidence": ["D1:4"], "category": 4},
        {"question": "What did Ana make in pottery class?", "answer": "a blue bowl", "evidence": ["D2:3"],
         "category": 4},
        {"question": "When is Ben's marathon?", "answer": "October", "evidence": ["D2:4"], "category": 2},
        {"question": "What pets and hobbies do Ana and Ben have?", "answer": "puppy, pottery",
         "evidence": ["D1:2", "D2:1"], "category": 1},
        {"question": "What is Ana's favourite movie?", "adversarial_answer": "Up", "evidence": ["D2:1"],
         "category": 5},
    ],
}  # fmt: skip
# question -> (a phrase of the evidence turn, the answer a model that sees it gives)
KNOWLEDGE = {
    "What is the name of Ben's dog?": ("called Biscuit", "Biscuit"),
    "What breed is Ben's dog?": ("A beagle", "a beagle"),
    "What did Ana make in pottery class?": ("blue bowl", "A blue bowl"),
    "When is Ben's marathon?": ("marathon in October", "October"),
    "What pets and hobbies do Ana and Ben have?": ("pottery classes", "puppy, pottery"),
    "What is Ana's favourite movie?": ("favourite movie", "Up"),
}


def reader(messages: list[BaseMessage]) -> str:
    """A model that answers only from what its prompt shows (and abstains otherwise)."""
    prompt = messages[-1].text
    question = prompt.rsplit("Question: ", 1)[1].split("\n")[0]
    phrase, answer = KNOWLEDGE[question]
    shown = prompt.rsplit("Question: ", 1)[0]
    return f"Answer: {answer}\n(because the conversation says so)" if phrase in shown else NOT_MENTIONED + "."


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(CONVERSATION))
    return path


def test_backend_choices_match_the_llm_layer() -> None:
    assert tuple(b.value for b in BackendChoice) == BACKENDS


def test_sample_questions_is_even_per_category_and_deterministic() -> None:
    qas = [("c", i, QA(f"q{i}", "a", (), cat)) for i, cat in enumerate([1] * 10 + [2] * 2 + [4] * 20 + [5] * 8)]
    chosen = sample_questions(qas, 12, (1, 2, 3, 4, 5))
    cats = [q.category for _, _, q in chosen]
    assert {c: cats.count(c) for c in set(cats)} == {1: 4, 2: 2, 4: 3, 5: 3}  # 2 has only 2; its spare goes on
    assert chosen == sample_questions(qas, 12, (1, 2, 3, 4, 5))
    assert [i for _, i, _ in chosen] == sorted(i for _, i, _ in chosen)  # data order
    assert [i for _, i, q in chosen if q.category == 4] == [12, 18, 25]  # evenly spaced through the category
    assert len(sample_questions(qas, None, (1, 4))) == 30
    assert len(sample_questions(qas, 1000, (1, 2, 3, 4, 5))) == 40


def test_full_context_window_drops_the_oldest_turns_first(mini: Path) -> None:
    turns, _ = to_dialogue(load_locomo(mini)[0])
    words = lambda text: len(text.split())  # noqa: E731
    whole = full_context_window(turns, 10_000, words)
    assert not whole.truncated and whole.turns_kept == 8 and whole.text.startswith("Session 1 (1:56 pm on 8 May")
    small = full_context_window(turns, 40, words)
    assert small.truncated and 0 < small.turns_kept < 8
    assert "D2:4" in small.kept_ids and "D1:1" not in small.kept_ids and small.tokens <= 40
    assert small.text.splitlines()[-1] == "Ben: I am training for a marathon in October."


def test_clean_answer() -> None:
    assert clean_answer("Answer: 'a beagle'\nbecause ...") == "a beagle"
    assert clean_answer("\n\n  Short answer - October  ") == "October"
    assert clean_answer("") == ""


def test_answers_with_the_scripted_model_against_both_baselines(mini: Path, tmp_path: Path) -> None:
    chat = ScriptedChatModel().enqueue(*[reader] * 18)  # 6 questions x 3 methods, strictly
    config = LocomoEvalConfig(k=3, context_tokens=256, answer_tokens=16)
    report = run_locomo_eval(load_locomo(mini), config, tmp_path / "bank", chat=chat)
    data = report.to_dict(items=True)
    assert not chat.replies and len(chat.calls) == 18
    assert all(SECRET not in m.text for call in chat.calls for m in call)  # turns only, never annotations
    memory_prompt = chat.calls[0][-1].text
    assert "Session 1 (1:56 pm on 8 May, 2023):\nBen: Great! I adopted a puppy called Biscuit." in memory_prompt
    window = data["by_conversation"]["mini"]["full_context_window"]
    assert window["truncated"] and window["turns_kept"] < window["turns_total"] == 8
    assert "older turns were truncated" in report.truncation_notes()[0]
    assert "D1:2" not in report.windows["mini"].text and "D1:2" not in report.windows["mini"].kept_ids
    by_cat = data["by_category"]
    assert by_cat["4"]["recall@5"] == 1.0 and by_cat["4"]["questions"] == 3
    assert by_cat["4"]["f1"] == 1.0 and by_cat["4"]["no_memory_f1"] == 0.0
    assert by_cat["4"]["full_context_f1"] == pytest.approx(2 / 3)  # the dog's name fell out of the window
    assert by_cat["4"]["full_context_evidence_in_context"] == pytest.approx(2 / 3)
    assert by_cat["5"]["f1"] == by_cat["5"]["no_memory_f1"] == 1.0  # abstaining is right for category 5
    main = [i for i in data["items"] if i["category"] != 5]
    for method, value in (("memory", data["f1"]), ("no_memory", data["baselines"]["no_memory"]["f1"]),
                          ("full_context", data["baselines"]["full_context"]["f1"])):  # fmt: skip
        assert value == pytest.approx(sum(i["scores"][method] for i in main) / len(main))
    assert data["baselines"]["no_memory"]["f1"] == 0.0 and data["questions"] == 5
    assert set(data) >= {"recall@5", "recall@10", "f1", "by_category", "by_conversation", "baselines", "items"}
    item = data["items"][0]
    assert item["answers"]["memory"] == "Biscuit" and item["scores"]["memory"] == 1.0
    assert report.model_errors == 0 and set(data["seconds_per_answer"]) == {"memory", "full_context", "no_memory"}


def test_cli_answer_run_with_max_questions(mini: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = ScriptedChatModel().enqueue(*[reader] * 9)  # --max-questions 3 -> 3 questions x 3 methods
    monkeypatch.setattr("agent.cli.eval_cmd.chat_model_for", lambda *args: chat)
    out = tmp_path / "results" / "locomo.json"
    result = runner.invoke(eval_app, ["locomo", str(mini), "--max-questions", "3", "--categories", "2,4,5",
                                      "--k", "3", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "overall (1-4)" in result.stdout and "F1 full context" in result.stdout
    assert "seconds per answer: memory" in result.stdout and f"results saved to {out}" in result.stdout
    saved = json.loads(out.read_text())
    assert {k: v["questions"] for k, v in saved["by_category"].items()} == {"2": 1, "4": 1, "5": 1}
    assert len(saved["items"]) == 3 and saved["settings"]["max_questions"] == 3
    assert not chat.replies


def test_cli_bad_input_is_a_clear_error(mini: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = runner.invoke(eval_app, ["locomo", str(missing), "--no-answer"])
    assert result.exit_code == 2 and "does not exist" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(eval_app, ["locomo", str(mini), "--no-answer", "--categories", "1,7"])
    assert result.exit_code == 2 and "'7' is not a LoCoMo category" in result.stderr
    result = runner.invoke(eval_app, ["locomo", str(mini), str(mini), "--no-answer"])
    assert result.exit_code == 2 and "given more than once" in result.stderr


def test_no_answer_json_on_locomo_26(shared_data: Path) -> None:
    path = shared_data / "locomo-dev" / "26.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    result = runner.invoke(eval_app, ["locomo", str(path), "--no-answer", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert 0.0 < data["recall@10"] <= 1.0 and 0.0 < data["recall@5"] <= data["recall@10"]
    assert data["f1"] is None and data["questions"] == 152  # categories 1-4 of conversation 26
    assert set(data["by_category"]) == {"1", "2", "3", "4", "5"}
    assert data["by_category"]["2"]["name"] == "temporal" and data["by_category"]["2"]["recall@10"] > 0.5
    assert data["by_conversation"]["26"]["recall@10"] == data["recall@10"]
    assert data["by_conversation"]["26"]["turns"] == 419


@pytest.mark.slow
def test_real_small_model_answers(tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "locomo-dev" / "26.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    out = tmp_path / "real.json"
    result = runner.invoke(eval_app, ["locomo", str(path), "--llm", "local-small", "--max-questions", "6",
                                      "--k", "5", "--ctx", "1024", "--json", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sum(c["questions"] for c in data["by_category"].values()) == 6
    assert data["model_errors"] == 0
    for value in (data["f1"], data["baselines"]["no_memory"]["f1"], data["baselines"]["full_context"]["f1"]):
        assert value is not None and 0.0 <= value <= 1.0
    items = json.loads(out.read_text())["items"]
    assert all(set(i["answers"]) == {"memory", "full_context", "no_memory"} for i in items)
    assert all(i["answers"]["memory"] for i in items)  # the model said something every time
