"""Paired trials of rules: the stability-plasticity gate's ledger and its decisions.

A rule reflection proposes starts as a :attr:`MemoryStatus.CANDIDATE`. A caller that can run tasks (the agent's
gate, :mod:`agent.learning.gate`) plays the same seeds with the rule shown and without it and hands the two arms'
outcomes to :meth:`Trials.record`, which compares them seed by seed and decides in one transaction:

* a candidate that did not hurt is **admitted** (active; a revision supersedes the rule it revises), one that hurt
  is **refused** (stays a candidate until reflection changes or votes it again);
* an active rule that hurt is **demoted** to candidate; one that did not is **kept**.

The trial is also the rule's credit: each seed adds an outcome of 1 (better with the rule), 0 (worse) or 0.5 (no
difference) to its utility, so utility says what a rule changed, not how often it was shown. Memory knows no
environment: an outcome is a success, a score and a step count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from memory.base import MemoryKind, MemoryRecord, MemoryStatus, validate_namespace
from memory.errors import MemoryUsageError
from memory.ledger import Ledger
from memory.validate import counter, finite, note, unit_number
from memory.views import BankView

HELPED, NO_DIFFERENCE, HURT = "helped", "no difference", "hurt"
ADMITTED, REFUSED, KEPT, DEMOTED = "admitted", "refused", "kept", "demoted"
REVISES = "revises"
"""``meta`` key of a candidate written as a revision of an active rule: the id it replaces once admitted."""


@dataclass(frozen=True)
class Outcome:
    """How one episode of a trial went."""

    success: bool
    score: float
    """0..1."""
    steps: int

    def key(self) -> tuple[bool, float, int]:
        """Better is larger: solved, then score, then (when solved) fewer steps."""
        return (self.success, round(self.score, 9), -self.steps if self.success else 0)


@dataclass(frozen=True)
class TrialRecord:
    """One paired trial as the ledger keeps it."""

    seq: int
    ts: float
    memory_id: str
    seeds: tuple[int, ...]
    with_rule: tuple[Outcome, ...]
    without_rule: tuple[Outcome, ...]
    verdict: str
    """``helped``, ``no difference`` or ``hurt`` (seeds better with the rule minus seeds worse)."""
    decision: str
    """``admitted``, ``refused``, ``kept`` or ``demoted``."""
    model_calls: int
    seconds: float

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of every field."""
        return {**asdict(self), "seeds": list(self.seeds), "with_rule": [asdict(o) for o in self.with_rule],
                "without_rule": [asdict(o) for o in self.without_rule]}  # fmt: skip


def compare(with_rule: Sequence[Outcome], without_rule: Sequence[Outcome]) -> tuple[str, list[float]]:
    """The verdict of paired arms and each seed's utility outcome (1 better with the rule, 0 worse, 0.5 same)."""
    per_seed = [1.0 if w.key() > o.key() else 0.0 if w.key() < o.key() else 0.5
                for w, o in zip(with_rule, without_rule, strict=True)]  # fmt: skip
    net = sum(1 for v in per_seed if v == 1.0) - sum(1 for v in per_seed if v == 0.0)
    return (HELPED if net > 0 else HURT if net < 0 else NO_DIFFERENCE), per_seed


class Trials:
    """Records paired trials and applies what they decide (status, supersession, utility), logged in history."""

    def __init__(self, ledger: Ledger, view: BankView, clock: Callable[[], float], actor: str) -> None:
        self.ledger = ledger
        self.view = view
        self.clock = clock
        self.actor = actor

    def record(self, memory_id: str, seeds: Sequence[int], with_rule: Sequence[Outcome],
               without_rule: Sequence[Outcome], *, model_calls: int = 0, seconds: float = 0.0,
               actor: str | None = None) -> TrialRecord:  # fmt: skip
        """Store a trial of ``memory_id`` (a candidate or active memory) and apply its decision.

        Raises:
            MemoryUsageError: unknown id, an archived or superseded memory, arms not one outcome per seed, or
                outcomes out of range.
        """
        record = self.view.get(memory_id)
        if record.status not in (MemoryStatus.CANDIDATE, MemoryStatus.ACTIVE):
            raise MemoryUsageError(f"{memory_id} is {record.status.value}; only candidates and active memories "
                                   "are tried")  # fmt: skip
        seeds = tuple(counter(s, "trial seed", low=-(2**63)) for s in seeds)
        arms = [_outcomes(arm, len(seeds), name) for arm, name in ((with_rule, "with_rule"),
                                                                   (without_rule, "without_rule"))]  # fmt: skip
        if not seeds:
            raise MemoryUsageError("a trial needs at least one seed")
        verdict, per_seed = compare(*arms)
        candidate = record.status is MemoryStatus.CANDIDATE
        decision = (REFUSED if verdict == HURT else ADMITTED) if candidate else (DEMOTED if verdict == HURT else KEPT)
        status = MemoryStatus.ACTIVE if decision in (ADMITTED, KEPT) else MemoryStatus.CANDIDATE
        now, who = self.clock(), note(actor or self.actor)
        calls, secs = counter(model_calls, "model_calls"), finite(seconds, "seconds", low=0.0)
        revised = str(record.meta.get(REVISES) or "") if decision == ADMITTED else ""
        old = self.view.get_many([revised]) if revised else []
        with self.ledger.tx() as conn:
            cur = conn.execute(
                "INSERT INTO trials (ts, memory_id, seeds, with_rule, without_rule, verdict, decision, model_calls, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, memory_id, json.dumps(list(seeds)), json.dumps([asdict(o) for o in arms[0]]),
                 json.dumps([asdict(o) for o in arms[1]]), verdict, decision, calls, secs),
            )  # fmt: skip
            fields = {"status": status.value, "meta": json.dumps({**record.meta, "gate": decision}),
                      "utility_sum": record.utility_sum + sum(per_seed),
                      "utility_count": record.utility_count + len(per_seed), "updated_at": now}  # fmt: skip
            self.ledger.update_fields(memory_id, fields, store_dirty=False)
            self.ledger.log([("trial", memory_id, record.kind.value, record.namespace, who, f"paired trial: {verdict}",
                              {"status": record.status.value, "utility_sum": record.utility_sum,
                               "utility_count": record.utility_count},
                              {"status": status.value, "decision": decision, "seeds": list(seeds), "outcomes": per_seed,
                               "trial": cur.lastrowid, "utility_sum": fields["utility_sum"],
                               "utility_count": fields["utility_count"]})])  # fmt: skip
            superseded = {"status": MemoryStatus.SUPERSEDED.value, "superseded_by": memory_id}
            for o in old:
                if o.status is MemoryStatus.ACTIVE:
                    self.ledger.update_fields(o.id, {**superseded, "updated_at": now}, store_dirty=False)
                    self.ledger.log([("supersede", o.id, o.kind.value, o.namespace, who, "its revision passed a trial",
                                      {"status": o.status.value}, superseded)])  # fmt: skip
        return self.of(memory_id)[-1]

    def of(self, memory_id: str) -> list[TrialRecord]:
        """The trials of one memory, oldest first."""
        rows = self.ledger.query(
            "SELECT seq, ts, memory_id, seeds, with_rule, without_rule, verdict, decision, model_calls, seconds "
            "FROM trials WHERE memory_id = ? ORDER BY seq", [memory_id])  # fmt: skip
        return [TrialRecord(seq, ts, mid, tuple(json.loads(seeds)), _loaded(w), _loaded(wo), verdict, decision,
                            calls, secs)
                for seq, ts, mid, seeds, w, wo, verdict, decision, calls, secs in rows]  # fmt: skip

    def due(self, namespace: str, limit: int, kind: MemoryKind = MemoryKind.INSIGHT) -> list[MemoryRecord]:
        """Up to ``limit`` rules to try next: candidates changed since their last trial (most votes first), then
        active rules, least recently tried first (never tried before any)."""
        namespace = validate_namespace(namespace)
        last = {mid: ts for mid, ts in self.ledger.query("SELECT memory_id, MAX(ts) FROM trials GROUP BY memory_id")}
        waiting = [r for r in self.view.memories([kind], namespace, MemoryStatus.CANDIDATE)
                   if r.id not in last or r.updated_at > last[r.id]]  # fmt: skip
        waiting.sort(key=lambda r: (-r.votes, r.created_at))
        active = sorted(self.view.memories([kind], namespace, MemoryStatus.ACTIVE),
                        key=lambda r: (last.get(r.id, float("-inf")), r.created_at))  # fmt: skip
        return [*waiting, *active][: max(0, limit)]

    def summary(self, namespace: str | None = None) -> dict[str, int | float]:
        """Counts of trials by decision and their cost (model calls, seconds), for reports."""
        where, params = ("", []) if namespace is None else (
            "WHERE memory_id IN (SELECT id FROM memories WHERE namespace = ?)", [validate_namespace(namespace)])
        rows = self.ledger.query(f"SELECT decision, COUNT(*), SUM(model_calls), SUM(seconds) FROM trials {where} "
                                 "GROUP BY decision", params)  # fmt: skip
        out: dict[str, int | float] = {d: 0 for d in (ADMITTED, REFUSED, KEPT, DEMOTED)}
        out.update({"model_calls": 0, "seconds": 0.0})
        for decision, n, calls, secs in rows:
            out[decision] = int(n)
            out["model_calls"] = int(out["model_calls"]) + int(calls or 0)
            out["seconds"] = float(out["seconds"]) + float(secs or 0.0)
        return out


def _outcomes(arm: object, count: int, what: str) -> tuple[Outcome, ...]:
    if not isinstance(arm, Sequence) or isinstance(arm, str | bytes) or len(arm) != count:
        raise MemoryUsageError(f"{what} must hold one outcome per seed ({count})")
    out = []
    for i, o in enumerate(arm):
        if not isinstance(o, Outcome) or not isinstance(o.success, bool):
            raise MemoryUsageError(f"{what}[{i}] must be an Outcome(success: bool, score, steps), got {o!r:.60}")
        out.append(Outcome(o.success, unit_number(o.score, f"{what}[{i}].score"),
                           counter(o.steps, f"{what}[{i}].steps")))  # fmt: skip
    return tuple(out)


def _loaded(text: str) -> tuple[Outcome, ...]:
    return tuple(Outcome(bool(d["success"]), float(d["score"]), int(d["steps"])) for d in json.loads(text))
