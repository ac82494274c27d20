"""`evolve memory` end to end on a real bank (embedded Chroma + ledger in tmp_path, real MiniLM; no LLM).

Every command is driven through the real typer app with ``CliRunner``; bad input must end with a clear
``error:`` line, exit code 2, no stack trace, and the bank unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agent.cli.memory_cmd import memory_app
from memory import MemoryBank, MemoryConfig, MemoryKind

runner = CliRunner()
DAY = 86_400.0


@dataclass
class Bank:
    """A bank directory with known memories."""

    dir: Path
    fact: str
    experience: str
    insight: str
    old: str
    user: str


@pytest.fixture
def bank(tmp_path: Path) -> Bank:
    """Five memories in tmp_path/data/mem: a fact with feedback, an experience, an insight derived from both,
    a user profile, and a year-old experience that the forgetting sweep archives."""
    import time

    path = tmp_path / "data" / "mem"
    with MemoryBank(MemoryConfig(path=path)) as b:
        fact = b.insert("put the blender on the counter: accepted", kind=MemoryKind.FACT, namespace="env:twc",
                        source_ids=("ep-1",), episode_id="ep-1")  # fmt: skip
        experience = b.insert("the kitchen is north of the hallway", namespace="env:twc", episode_id="ep-1",
                              thread="ep-1", seq=3)  # fmt: skip
        insight = b.insert("open doors before moving through them", kind=MemoryKind.INSIGHT, namespace="agent",
                           derived_from=(fact, experience))  # fmt: skip
        user = b.insert("Ana likes pottery and long walks", kind=MemoryKind.PROFILE, namespace="user:ana")
        old = b.insert("a long forgotten detail about the garden shed", namespace="env:twc",
                       created_at=time.time() - 365 * DAY)  # fmt: skip
        b.feedback([fact], True, episode_id="ep-2")
    return Bank(path, fact, experience, insight, old, user)


def run(bank: Bank, *args: str) -> Result:
    return runner.invoke(memory_app, [*args, "--memory-dir", str(bank.dir)])


def ok_json(bank: Bank, *args: str) -> dict:
    result = run(bank, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def active_ids(bank: Bank) -> set[str]:
    return {m["id"] for m in ok_json(bank, "list")["memories"]}


# -- reading ------------------------------------------------------------------------------------------------
def test_list_filters_by_kind_namespace_and_status(bank: Bank) -> None:
    assert active_ids(bank) == {bank.fact, bank.experience, bank.insight, bank.user, bank.old}
    facts = ok_json(bank, "list", "--kind", "fact", "--kind", "insight")["memories"]
    assert {m["id"] for m in facts} == {bank.fact, bank.insight}
    twc = ok_json(bank, "list", "--namespace", "env:twc")["memories"]
    assert {m["id"] for m in twc} == {bank.fact, bank.experience, bank.old}
    fact = next(m for m in twc if m["id"] == bank.fact)
    assert fact["utility"] == pytest.approx(2 / 3) and 0.99 < fact["retention"] <= 1.0
    assert ok_json(bank, "list", "--status", "archived")["memories"] == []
    table = run(bank, "list").stdout
    assert "5 memories in" in table
    for mid in (bank.fact, bank.experience, bank.insight, bank.user, bank.old):
        assert mid in table  # ids are never folded or cut


def test_show_gives_provenance_and_full_history(bank: Bank) -> None:
    shown = ok_json(bank, "show", bank.insight)
    assert shown["record"]["text"] == "open doors before moving through them"
    derived = shown["provenance"]["derived_from"]
    assert [d["id"] for d in derived] == [bank.fact, bank.experience]
    assert derived[0]["text"] == "put the blender on the counter: accepted"
    fact = ok_json(bank, "show", bank.fact)
    assert fact["provenance"]["source_ids"] == ["ep-1"] and fact["provenance"]["episode_id"] == "ep-1"
    assert [h["op"] for h in fact["history"]] == ["insert", "feedback"]
    assert fact["history"][1]["after"]["episode_id"] == "ep-2"
    text = run(bank, "show", bank.insight).stdout
    assert f"{bank.insight}  insight in agent, active" in text
    assert f"derived from {bank.fact} (fact, active): put the blender on the counter: accepted" in text
    assert "history of" in text and "insert" in text
    history = ok_json(bank, "history", bank.fact)
    assert history["id"] == bank.fact and [h["op"] for h in history["history"]] == ["insert", "feedback"]


def test_search_shows_score_components_and_does_not_record(bank: Bank) -> None:
    found = ok_json(bank, "search", "where is the kitchen?", "--k", "3", "--namespace", "env:twc")
    hits = found["hits"]
    assert hits[0]["id"] == bank.experience and len(hits) == 3
    assert set(hits[0]["parts"]) == {"relevance", "similarity", "keyword", "recency", "importance", "retention",
                                     "utility"}  # fmt: skip
    assert hits[0]["score"] >= hits[1]["score"]
    assert ok_json(bank, "show", bank.experience)["record"]["recall_count"] == 0
    only_facts = ok_json(bank, "search", "kitchen", "--kind", "fact")["hits"]
    assert [h["id"] for h in only_facts] == [bank.fact]
    table = run(bank, "search", "where is the kitchen?").stdout
    assert "memories for 'where is the kitchen?'" in table and bank.experience in table and "bm25" in table


def test_stats_counts_kinds_retention_and_utility(bank: Bank) -> None:
    stats = ok_json(bank, "stats")
    assert stats["total"] == 5 and stats["active"] == 5
    assert stats["by_kind"] == {"experience": {"active": 2}, "fact": {"active": 1}, "insight": {"active": 1},
                                "profile": {"active": 1}}  # fmt: skip
    retention = stats["retention"]
    assert sum(retention["histogram"].values()) == 5
    assert retention["histogram"]["0.00-0.02"] == 1 and retention["below_forget_threshold"] == 1
    assert stats["utility"]["with_outcomes"] == 1 and stats["utility"]["mean_with_outcomes"] == pytest.approx(2 / 3)
    scoped = ok_json(bank, "stats", "--namespace", "env:twc", "--kind", "fact")
    assert scoped["scope"] == {"namespace": "env:twc", "kinds": ["fact"], "active": 1}
    text = run(bank, "stats").stdout
    assert "5 memories, 5 active" in text and "retention exp(-t/S)" in text
    assert "1 decaying memories below the forgetting threshold 0.02" in text


# -- changing -----------------------------------------------------------------------------------------------
def test_forget_restore_and_pin(bank: Bank) -> None:
    result = run(bank, "forget", bank.experience)
    assert result.exit_code == 0
    assert result.stdout.strip() == (f"archived {bank.experience}: the kitchen is north of the hallway "
                                     f"(undo: evolve memory restore {bank.experience})")  # fmt: skip
    assert bank.experience not in active_ids(bank)
    assert [m["id"] for m in ok_json(bank, "list", "--status", "archived")["memories"]] == [bank.experience]
    assert ok_json(bank, "restore", bank.experience) == {"id": bank.experience, "was": "archived", "status": "active"}
    assert bank.experience in active_ids(bank)
    assert [h["op"] for h in ok_json(bank, "history", bank.experience)["history"]] == ["insert", "archive", "restore"]

    assert ok_json(bank, "pin", bank.fact) == {"id": bank.fact, "pinned": True, "changed": True}
    assert_usage_error(run(bank, "forget", bank.fact), f"memory {bank.fact} is pinned", "evolve memory unpin")
    assert bank.fact in active_ids(bank)
    assert ok_json(bank, "unpin", bank.fact)["changed"] is True
    assert ok_json(bank, "forget", bank.fact, "--dry-run") == {"id": bank.fact, "dry_run": True, "was": "active",
                                                               "archived": 1}  # fmt: skip
    assert bank.fact in active_ids(bank)


def test_forget_sweep_dry_run_then_for_real(bank: Bank) -> None:
    dry = ok_json(bank, "forget", "--sweep", "--dry-run")
    assert dry["dry_run"] and dry["archived"] == 1 and dry["examined"] == 5
    assert dry["decayed"] == [{"id": bank.old, "text": "a long forgotten detail about the garden shed"}]
    assert bank.old in active_ids(bank)  # a dry run changes nothing
    text = run(bank, "forget", "--sweep")
    assert text.exit_code == 0
    assert "examined 5 active memories, archived 1 (1 decayed, 0 low utility, 0 over capacity)" in text.stdout
    assert f"decayed: {bank.old}" in text.stdout
    assert bank.old not in active_ids(bank)
    run(bank, "restore", bank.old)
    assert bank.old in active_ids(bank)
    assert_usage_error(run(bank, "forget"), "give either a memory id or --sweep")
    assert_usage_error(run(bank, "forget", bank.fact, "--sweep"), "give either a memory id or --sweep")


def test_snapshot_and_rollback_keep_a_backup(bank: Bank) -> None:
    assert ok_json(bank, "snapshot", "before")["memories"] == 5
    run(bank, "forget", bank.fact)
    assert bank.fact not in active_ids(bank)
    rolled = ok_json(bank, "rollback", "before")
    assert rolled["active"] == 5 and rolled["backup"].startswith("before-rollback-")
    assert bank.fact in active_ids(bank)
    names = [s["name"] for s in ok_json(bank, "snapshot", "--list")["snapshots"]]
    assert names == ["before", rolled["backup"]]
    assert_usage_error(run(bank, "rollback", "nope"), "no snapshot named 'nope'", "known: before, before-rollback-")
    assert_usage_error(run(bank, "snapshot", "bad name!"), "bad snapshot name 'bad name!'")


def test_export_then_import_into_a_new_bank(bank: Bank, tmp_path: Path) -> None:
    target = tmp_path / "data" / "exports" / "all.jsonl"
    assert ok_json(bank, "export", str(target)) == {"path": str(target), "memories": 5}
    assert len(target.read_text().splitlines()) == 6  # header + one line per memory
    assert_usage_error(run(bank, "export", str(target)), "exists; pass --force")
    new_dir = tmp_path / "data" / "copy"
    args = ["import", str(target), "--memory-dir", str(new_dir), "--json"]
    assert_usage_error(runner.invoke(memory_app, args[:-1]), "does not exist", "--create")
    result = runner.invoke(memory_app, [*args, "--create"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"path": str(target), "records": 5, "imported": 5, "skipped": 0}
    copy = Bank(new_dir, bank.fact, bank.experience, bank.insight, bank.old, bank.user)
    assert active_ids(copy) == active_ids(bank)
    assert ok_json(copy, "show", bank.insight)["provenance"]["derived_from"][0]["id"] == bank.fact
    assert ok_json(copy, "import", str(target))["imported"] == 0  # idempotent


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["show", "history", "forget", "restore", "pin", "unpin"])
def test_unknown_id_is_a_clear_error(bank: Bank, command: str) -> None:
    assert_usage_error(run(bank, command, "mem-00000000000000000000"), "mem-00000000000000000000")
    assert len(active_ids(bank)) == 5


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json at all\n",
        b'{"format": "something-else"}\n',
        b'{"format": "evolve-memory-jsonl", "version": 1}\n{"record": {"id": "mem-1", "kind": "fact"',
        b'{"format": "evolve-memory-jsonl", "version": 1}\n{"record": {"id": "mem-1", "kind": "weird", '
        b'"namespace": "agent", "text": "x", "created_at": 1}}\n',
        b"\xff\xfe\x00binary",
    ],
    ids=["empty", "not-json", "other-format", "truncated", "bad-kind", "binary"],
)
def test_corrupt_export_is_refused_and_nothing_changes(bank: Bank, content: bytes) -> None:
    bad = bank.dir.parent / "bad.jsonl"
    bad.write_bytes(content)
    before = ok_json(bank, "stats")["history_entries"]
    result = run(bank, "import", str(bad))
    assert_usage_error(result, "bad.jsonl")
    assert ok_json(bank, "stats")["history_entries"] == before and len(active_ids(bank)) == 5


def test_paths_outside_the_data_directory_are_refused(bank: Bank, tmp_path: Path) -> None:
    root = str((tmp_path / "data").resolve())
    outside = tmp_path / "elsewhere.jsonl"
    result = run(bank, "export", str(outside))
    assert_usage_error(result, f"export file '{outside}'", f"outside the data directory {root}", "--data-dir")
    assert not outside.exists()
    sneaky = tmp_path / "data" / ".." / "sneaky.jsonl"
    resolved = tmp_path.resolve() / "sneaky.jsonl"
    assert_usage_error(run(bank, "export", str(sneaky)), f"export file '{sneaky}'", f"resolves to {resolved}")
    link = tmp_path / "data" / "link"
    link.symlink_to(tmp_path)
    assert_usage_error(run(bank, "export", str(link / "x.jsonl")), "outside the data directory")
    outside.write_text('{"format": "evolve-memory-jsonl", "version": 1}\n')
    assert_usage_error(run(bank, "import", str(outside)), f"import file '{outside}'", root)
    allowed = runner.invoke(memory_app, ["export", str(outside), "--memory-dir", str(bank.dir), "--data-dir",
                                         str(tmp_path), "--force", "--json"])  # fmt: skip
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["memories"] == 5


def test_export_into_the_bank_itself_is_refused_and_loses_nothing(bank: Bank) -> None:
    ledger = bank.dir / "ledger.sqlite3"
    before = ledger.read_bytes()
    assert_usage_error(run(bank, "export", str(ledger), "--force"), "inside the memory directory")
    assert_usage_error(run(bank, "export", str(bank.dir / "new.jsonl")), "inside the memory directory")
    assert_usage_error(run(bank, "export", str(bank.dir.parent), "--force"), "is a directory")
    assert ledger.read_bytes() == before and len(active_ids(bank)) == 5 and ok_json(bank, "stats")
    assert not list(bank.dir.parent.glob("*.tmp")) and not (bank.dir / "new.jsonl").exists()


def test_memory_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "data" / "mem"
    hostile = "title\x1b]0;pwned\x07 clear\x1b[2J [red]markup[/red] env:x: \u202eevil"
    with MemoryBank(MemoryConfig(path=path)) as b:
        mid = b.insert(hostile, namespace="env:x", source_ids=("src\x1b[31m",))
    shown = {cmd: runner.invoke(memory_app, [*cmd, "--memory-dir", str(path)]) for cmd in
             (("list",), ("show", mid), ("search", "title clear"))}  # fmt: skip
    for cmd, result in shown.items():
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout, cmd
        assert "[red]markup[/red]" in result.stdout and "\u274c" not in result.stdout, cmd  # shown as written
    as_json = runner.invoke(memory_app, ["show", mid, "--json", "--memory-dir", str(path)])
    assert json.loads(as_json.stdout)["record"]["text"] == hostile  # JSON stays exact


def test_bad_urls_paths_and_numbers_get_one_line(bank: Bank, tmp_path: Path) -> None:
    assert_usage_error(run(bank, "list", "--chroma-url", "http://[::bad"), "'http://[::bad' is not a valid URL")
    assert_usage_error(run(bank, "list", "--chroma-url", "http://"), "not an http(s) URL with a host")
    afile = tmp_path / "data" / "afile"
    afile.write_text("x")
    export = tmp_path / "data" / "e.jsonl"
    assert run(bank, "export", str(export)).exit_code == 0
    result = runner.invoke(memory_app, ["import", str(export), "--create", "--memory-dir", str(afile / "sub")])
    assert_usage_error(result, f"lies under '{afile}', which is a file")
    assert_usage_error(run(bank, "import", str(tmp_path / "data")), "is a directory")
    for args in (("list", "--limit", "9223372036854775808"), ("search", "milk", "--k", "9223372036854775807")):
        result = run(bank, *args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args
        assert "less than or equal to" in result.output, args
    assert len(active_ids(bank)) == 5


def test_missing_or_bad_memory_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    result = runner.invoke(memory_app, ["list", "--memory-dir", str(missing)])
    assert_usage_error(result, f"memory directory '{missing}' does not exist",
                       f"evolve memory import FILE --memory-dir {missing} --create")  # fmt: skip
    assert not missing.exists()  # not created behind the user's back
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_usage_error(runner.invoke(memory_app, ["stats", "--memory-dir", str(empty)]), "holds no memory bank")
    assert list(empty.iterdir()) == []
    assert_usage_error(runner.invoke(memory_app, ["stats", "--memory-dir", str(empty), "--chroma-url", "localhost:1"]),
                       "holds no memory bank")  # fmt: skip


def test_bad_chroma_url_and_namespace(bank: Bank) -> None:
    assert_usage_error(run(bank, "stats", "--chroma-url", "localhost:8000"), "not an http(s) URL")
    assert_usage_error(run(bank, "list", "--namespace", "user"), "bad namespace 'user'")


# -- reflecting (the scripted fake model stands in for the LLM: this checks the command's wiring) ------------
def test_reflect_writes_rules_and_again_takes_reflected_experiences(bank: Bank, monkeypatch) -> None:
    import agent.cli.options as cli_options
    from tests.fakes import ScriptedChatModel

    # E1 is the year-old garden-shed experience, E2 the kitchen one (oldest first)
    rule = {"op": "ADD", "text": "the kitchen lies north of the hallway", "evidence": ["E2"]}
    model = ScriptedChatModel().enqueue(json.dumps({"operations": [rule]}),
                                        json.dumps({"operations": [{"op": "UPVOTE", "target": "R1",
                                                                    "evidence": ["E1"]}]}))  # fmt: skip
    configs = []
    monkeypatch.setattr(cli_options, "make_model", lambda config: configs.append(config) or model)
    result = run(bank, "reflect", "--namespace", "env:twc", "--steps", "insights")
    assert result.exit_code == 0, result.output
    assert "reflected on 2 experiences in 1 batches of env:twc" in result.stdout and "1 rules added" in result.stdout
    assert configs[0].backend == "local"
    insights = [m for m in ok_json(bank, "list", "--kind", "insight")["memories"] if m["namespace"] == "env:twc"]
    assert [m["text"] for m in insights] == [rule["text"]]
    assert "nothing to reflect on" in run(bank, "reflect", "--namespace", "env:twc").stdout  # no model call
    again = ok_json(bank, "reflect", "--namespace", "env:twc", "--steps", "insights", "--again")
    assert again["experiences_reflected"] == 2 and again["upvotes"] == 1 and len(model.calls) == 2


def test_reflect_bad_steps_is_a_usage_error(bank: Bank) -> None:
    assert_usage_error(run(bank, "reflect", "--namespace", "env:twc", "--steps", "insights,dreams"),
                       "--steps 'insights,dreams'", "lessons, insights, summary")  # fmt: skip


# -- check and repair ---------------------------------------------------------------------------------------
def test_check_finds_a_damaged_index_and_repair_rebuilds_it(bank: Bank) -> None:
    import numpy as np

    from memory.schema import to_blob

    with MemoryBank(MemoryConfig(path=bank.dir)) as b:  # damage behind the bank's back: a lost item, a bad vector
        b.store.delete(b.collection(MemoryKind.FACT, "env:twc"), [bank.fact])
        with b.ledger.tx() as conn:
            conn.execute("UPDATE vectors SET embedding = ? WHERE id = ?", (to_blob(np.ones(3, np.float32)), bank.user))
    found = run(bank, "check")
    assert found.exit_code == 1, found.output
    assert "1 live memories are missing from the index" in found.stdout and "3 numbers" in found.stdout
    assert "evolve memory repair" in found.stdout
    report = json.loads(run(bank, "check", "--json").stdout)
    assert report["unfit_vectors"] == {bank.user: "3 numbers, the bank's vectors have 384"}
    repaired = run(bank, "repair")
    assert repaired.exit_code == 0, repaired.output
    assert "1 vector embedded again" in repaired.stdout and "ok: the index matches the ledger" in repaired.stdout
    assert run(bank, "check").exit_code == 0
    hits = ok_json(bank, "search", "who likes pottery", "--namespace", "user:ana")["hits"]
    assert hits[0]["id"] == bank.user


def test_reflect_against_a_model_that_never_answers_fails_and_reflects_nothing(bank: Bank) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    result = run(bank, "reflect", "--namespace", "env:twc", "--llm", "openai", "--base-url", url)
    assert_usage_error(result, "every reflect step failed", url)
    with MemoryBank(MemoryConfig(path=bank.dir)) as b:
        assert b.stats()["unreflected_experiences"] == 2
