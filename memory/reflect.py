"""Reflection: turn recent experiences into reflections, facts, summaries and voted insights.

The language model is injected as a :class:`JsonLLM` (messages and a JSON schema in, a dict out;
any exception on failure), so this module never builds or imports a model. Three steps per batch of
unreflected experiences, each one short grounded prompt (``memory/prompts/reflect.yaml``):

* ``lessons``: reflections (a lesson from one attempt) and facts (``profile`` facts in ``user:``
  namespaces), each citing its experiences;
* ``insights``: ExpeL operations on the namespace's rules: ADD, EDIT, UPVOTE, DOWNVOTE; a vote only
  counts for evidence not counted before (so re-running a batch cannot inflate votes), and a rule that
  reaches zero votes is archived (restorable), not deleted; with ``gate`` a new rule, or an edit of an active one,
  is written as a candidate that must pass a paired trial (:mod:`memory.trials`);
* ``summary``: one summary of the batch.

Every written memory's ``derived_from`` lists the experience ids it cites; ``source_ids`` carries the
experiences' own provenance (episodes, turns). An item without a valid evidence label, or sharing no
content word with its evidence (generic advice), is rejected and counted. When the model's reply is
unusable after the retries, the raw text goes to the ledger's failure table and the batch's experiences stay
unreflected: nothing is lost. Text that reads as an instruction to the model (:mod:`memory.guard`) is never
evidence and never written. A caller can pass a :data:`RuleCheck` that refuses items for a reason of its own.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from memory.base import MemoryInput, MemoryKind, MemoryRecord, MemoryStatus, content_hash, validate_namespace
from memory.errors import MemoryUsageError
from memory.evidence import CITES, cited_parts, cited_sources, label_lines, resolve_labels, shares_a_word
from memory.guard import instruction_flag
from memory.schema import NOT_FLAGGED
from memory.trials import REVISES

if TYPE_CHECKING:
    from memory.bank import MemoryBank

log = logging.getLogger(__name__)

STEPS = ("lessons", "insights", "summary")


class JsonLLM(Protocol):
    """An injected model call: role/content messages and a JSON schema in, a schema-valid dict out.

    Raise any exception when no valid object comes back (put the raw reply on ``exc.raw`` if you can:
    it is kept for inspection).
    """

    def __call__(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]: ...


RuleCheck = Callable[[str, Sequence[MemoryRecord]], str | None]
"""A caller's check of a proposed reflection, fact, summary or insight against its evidence records: the reason
to refuse it, or None to keep it."""

_ITEM = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "evidence": {"type": "array", "items": {"type": "string"}}},
    "required": ["text", "evidence"],
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "lessons": {
        "type": "object",
        "properties": {"reflections": {"type": "array", "items": _ITEM}, "facts": {"type": "array", "items": _ITEM}},
        "required": ["reflections", "facts"],
    },
    "insights": {
        "type": "object",
        "properties": {
            "operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["ADD", "EDIT", "UPVOTE", "DOWNVOTE"]},
                        "target": {"type": "string"},
                        "text": {"type": "string"},
                        "evidence": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["op", "evidence"],
                },
            }
        },
        "required": ["operations"],
    },
    "summary": {
        "type": "object",
        "properties": {"summary": {"type": "string"}, "evidence": {"type": "array", "items": {"type": "string"}}},
        "required": ["summary", "evidence"],
    },
}


def _first_rules_schema(max_ops: int) -> dict[str, Any]:
    """The insights schema when no rule exists yet: between one and ``max_ops`` ADD operations."""
    schema = copy.deepcopy(SCHEMAS["insights"])
    ops = schema["properties"]["operations"]
    ops.update(minItems=1, maxItems=max_ops)
    ops["items"]["properties"]["op"]["enum"] = ["ADD"]
    ops["items"]["required"] = ["op", "text", "evidence"]
    return schema


@lru_cache(maxsize=1)
def prompts() -> dict[str, str]:
    """The prompt templates shipped in ``memory/prompts/reflect.yaml``."""
    text = resources.files("memory").joinpath("prompts/reflect.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {str(k): str(v) for k, v in data.items()}


@dataclass
class ReflectReport:
    """What one :func:`reflect` run did."""

    batches: int = 0
    """Batches of experiences processed."""
    experiences_reflected: int = 0
    """Experiences marked reflected (every step of their batch succeeded)."""
    reflections: list[str] = field(default_factory=list)
    """Ids of reflection memories written."""
    facts: list[str] = field(default_factory=list)
    """Ids of fact / profile memories written."""
    summaries: list[str] = field(default_factory=list)
    """Ids of summary memories written."""
    insights_added: list[str] = field(default_factory=list)
    """Ids of insights added."""
    insights_edited: list[str] = field(default_factory=list)
    """Ids of insights whose text was edited."""
    revisions: list[str] = field(default_factory=list)
    """Ids of candidates written as revisions of active rules (with ``gate``)."""
    upvotes: int = 0
    """Votes added (one per insight per new piece of evidence)."""
    downvotes: int = 0
    """Votes removed."""
    insights_removed: list[str] = field(default_factory=list)
    """Insights archived at zero votes."""
    rejected: list[str] = field(default_factory=list)
    """Why proposed items were refused (no evidence, ungrounded, unknown target, ...)."""
    failures: int = 0
    """Model calls that gave no usable reply after the retries (raw text kept in the ledger)."""


class _Run:
    def __init__(self, bank: MemoryBank, llm: JsonLLM, namespace: str, actor: str, retries: int,
                 max_items: int, max_insights: int, summary_words: int, check: RuleCheck | None,
                 gate: bool) -> None:  # fmt: skip
        self.bank = bank
        self.gate = gate
        self.check = check
        self.llm = llm
        self.namespace = namespace
        self.actor = actor
        self.retries = retries
        self.max_items = max_items
        self.max_insights = max_insights
        self.summary_words = summary_words
        self.report = ReflectReport()

    def refused(self, what: str, text: str, evidence: Sequence[MemoryRecord]) -> bool:
        """Record and return whether ``text`` reads as an instruction to the model or the caller's check refuses it."""
        reason = instruction_flag(text) or (self.check(text, evidence) if self.check is not None else None)
        if reason:
            self.report.rejected.append(f"{what}: {reason}: {text!r}")
        return bool(reason)

    def ask(self, step: str, user: str, experience_ids: Sequence[str],
            schema: dict[str, Any] | None = None) -> dict[str, Any] | None:  # fmt: skip
        messages = [{"role": "system", "content": prompts()["system"]}, {"role": "user", "content": user}]
        schema = schema or SCHEMAS[step]
        for attempt in range(1, self.retries + 2):
            try:
                reply = self.llm(messages, schema)
                if not isinstance(reply, dict) or not all(k in reply for k in schema["required"]):
                    raise ValueError(f"reply lacks {schema['required']}: {str(reply)[:200]}")
                return reply
            except Exception as exc:  # the injected model may fail in any way; keep what it said
                raw = getattr(exc, "raw", None)
                raw_text = raw if isinstance(raw, str) else repr(exc)
                log.warning("reflect step %s attempt %d failed: %s", step, attempt, exc)
                self.bank.ledger.add_failure(step, f"attempt {attempt}: {exc}", raw_text, experience_ids)
        self.report.failures += 1
        return None

    def write(self, kind: MemoryKind, items: Any, mapping: dict[str, str], by_id: dict[str, MemoryRecord],
              importance: float) -> list[str]:  # fmt: skip
        written: list[str] = []
        for item in (items if isinstance(items, list) else [])[: self.max_items]:
            text = str(item.get("text", "")).strip() if isinstance(item, dict) else ""
            evidence = resolve_labels(item.get("evidence"), mapping) if isinstance(item, dict) else []
            if not text or len(text.split()) < 3:
                self.report.rejected.append(f"{kind.value}: too short: {text!r}")
                continue
            if not evidence:
                self.report.rejected.append(f"{kind.value}: no valid evidence label: {text!r}")
                continue
            records = [by_id[e] for e in evidence]
            if not shares_a_word(text, records):
                self.report.rejected.append(f"{kind.value}: shares no word with its evidence: {text!r}")
                continue
            if self.refused(kind.value, text, records):
                continue
            episodes = {r.episode_id for r in records}
            try:
                mid = self.bank.insert(
                    text, kind, self.namespace, actor=self.actor, reason="reflection", origin="reflection",
                    importance=importance, derived_from=tuple(evidence), source_ids=cited_sources(evidence, by_id),
                    episode_id=episodes.pop() if len(episodes) == 1 else None,
                    meta={CITES: cited_parts(text, records)},
                )  # fmt: skip
            except MemoryUsageError as exc:
                self.report.rejected.append(f"{kind.value}: {exc}")
                continue
            written.append(mid)
        return written

    def insights(self, ops: Any, mapping: dict[str, str], by_id: dict[str, MemoryRecord],
                 rules: dict[str, MemoryRecord]) -> None:  # fmt: skip
        for op in (ops if isinstance(ops, list) else [])[: self.max_items * 2]:
            if not isinstance(op, dict):
                continue
            kind = str(op.get("op", "")).upper()
            evidence = resolve_labels(op.get("evidence"), mapping)
            if not evidence:
                self.report.rejected.append(f"insight {kind}: no valid evidence label")
                continue
            records = [by_id[e] for e in evidence]
            target_label = str(op.get("target", "")).strip().upper().strip("[]")
            target = rules.get(target_label)
            text = str(op.get("text", "")).strip()
            if kind == "ADD":
                if len(text.split()) < 4 or not shares_a_word(text, records):
                    self.report.rejected.append(f"insight ADD: too short or ungrounded: {text!r}")
                    continue
                if self.refused("insight ADD", text, records):
                    continue
                key = (MemoryKind.INSIGHT.value, self.namespace, content_hash(MemoryKind.INSIGHT, self.namespace, text))
                existed = bool(self.bank.ledger.ids_by_hash([key]))
                ids = self.bank.insert_many(
                    [MemoryInput(text=text, kind=MemoryKind.INSIGHT, namespace=self.namespace, importance=0.7,
                                 derived_from=tuple(evidence), source_ids=cited_sources(evidence, by_id),
                                 meta={CITES: cited_parts(text, records)},
                                 origin="reflection", candidate=self.gate)], actor=self.actor,
                    reason="insight ADD")  # fmt: skip
                if existed:  # the rule is known already: the new evidence supports it
                    self._vote(self.bank.get(ids[0]), +1, evidence, "ADD of an existing rule")
                else:
                    self.report.insights_added.append(ids[0])
            elif target is None:
                self.report.rejected.append(f"insight {kind}: unknown target {op.get('target')!r}")
            elif kind == "EDIT":
                if len(text.split()) < 4 or not shares_a_word(text, records):
                    self.report.rejected.append(f"insight EDIT: too short or ungrounded: {text!r}")
                    continue
                if self.refused("insight EDIT", text, records):
                    continue
                try:
                    if self.gate and target.status is MemoryStatus.ACTIVE:  # the rule stays until its revision passes
                        self.report.revisions.append(self._revise(target, text, evidence, by_id))
                    else:
                        self.bank.edit(target.id, text, derived_from=evidence, actor=self.actor, reason="insight EDIT")
                        self.report.insights_edited.append(target.id)
                except MemoryUsageError as exc:
                    self.report.rejected.append(f"insight EDIT: {exc}")
            elif kind in ("UPVOTE", "DOWNVOTE"):
                self._vote(self.bank.get(target.id), +1 if kind == "UPVOTE" else -1, evidence, f"insight {kind}")
            else:
                self.report.rejected.append(f"unknown insight operation {kind!r}")

    def _revise(self, target: MemoryRecord, text: str, evidence: Sequence[str], by_id: dict[str, MemoryRecord]) -> str:
        sources = tuple(dict.fromkeys([*target.source_ids, *cited_sources(evidence, by_id)]))
        return self.bank.insert_many(
            [MemoryInput(text=text, kind=MemoryKind.INSIGHT, namespace=self.namespace, importance=target.importance,
                         derived_from=tuple(dict.fromkeys([*target.derived_from, *evidence])), source_ids=sources,
                         origin="reflection", candidate=True,
                         meta={REVISES: target.id, CITES: cited_parts(text, [by_id[e] for e in evidence])})],
            actor=self.actor, reason=f"insight EDIT of {target.id}, a candidate until tried")[0]  # fmt: skip

    def _vote(self, record: MemoryRecord, delta: int, evidence: Sequence[str], reason: str) -> None:
        outcome = self.bank.vote(record.id, delta, evidence, actor=self.actor, reason=reason)
        if outcome.counted:
            if delta > 0:
                self.report.upvotes += 1
            else:
                self.report.downvotes += 1
        if outcome.removed:
            self.report.insights_removed.append(record.id)


def reflect(
    bank: MemoryBank,
    llm: JsonLLM,
    *,
    namespace: str = "agent",
    batch_size: int = 8,
    max_batches: int | None = None,
    steps: Sequence[str] = STEPS,
    retries: int = 1,
    max_items: int = 5,
    max_insights_in_prompt: int = 15,
    summary_words: int = 60,
    actor: str = "reflect",
    again: bool = False,
    check: RuleCheck | None = None,
    gate: bool = False,
) -> ReflectReport:
    """Reflect on the namespace's unreflected experiences, oldest first, in batches.

    Args:
        bank: the memory bank.
        llm: the injected model (see :class:`JsonLLM`).
        namespace: whose experiences to reflect on; results are written to the same namespace.
        batch_size: experiences per prompt.
        max_batches: stop after this many batches (None: all).
        steps: which of ``lessons``, ``insights``, ``summary`` to run.
        retries: extra model calls per step after a failure.
        max_items: most reflections / facts / operations taken from one reply.
        max_insights_in_prompt: most existing rules shown (highest votes first).
        summary_words: length limit given to the summary step.
        actor: name written to the history log.
        again: also take experiences reflected before (e.g. to derive rules again with a stronger model).
        check: the caller's own check of each proposed item against its evidence (see :data:`RuleCheck`).
        gate: new rules start as candidates and an EDIT of an active rule writes a candidate revision
            (:mod:`memory.trials`); candidates are listed to the model beside the active rules.
    """
    namespace = validate_namespace(namespace)
    unknown = [s for s in steps if s not in STEPS]
    if unknown or batch_size < 1:
        raise MemoryUsageError(f"reflect: steps must be among {STEPS} (got {list(steps)}) and batch_size >= 1")
    run = _Run(bank, llm, namespace, actor, retries, max_items, max_insights_in_prompt, summary_words, check, gate)
    fact_kind = MemoryKind.PROFILE if namespace.startswith("user:") else MemoryKind.FACT
    unreflected = "" if again else "AND reflected_at IS NULL "  # flagged text is never evidence for what is written
    rows = bank.ledger.query(
        f"SELECT id FROM memories WHERE kind = ? AND namespace = ? AND status = ? {unreflected}"
        f"AND {NOT_FLAGGED} "
        "ORDER BY created_at, rowid",
        [MemoryKind.EXPERIENCE.value, namespace, MemoryStatus.ACTIVE.value],
    )
    pending = [r[0] for r in rows]
    for start in range(0, len(pending), batch_size):
        if max_batches is not None and run.report.batches >= max_batches:
            break
        batch = bank.get_many(pending[start : start + batch_size])
        run.report.batches += 1
        mapping = {f"E{i}": e.id for i, e in enumerate(batch, start=1)}
        by_id = {e.id: e for e in batch}
        exp_text = label_lines(batch)
        ids = [e.id for e in batch]
        ok = True
        tpl = prompts()
        if "lessons" in steps:
            hint = tpl["profile_hint"] if fact_kind is MemoryKind.PROFILE else ""
            reply = run.ask("lessons", tpl["lessons"].format(experiences=exp_text, max_items=max_items,
                                                             profile_hint=hint), ids)  # fmt: skip
            if reply is None:
                ok = False
            else:
                lessons = reply.get("reflections")
                run.report.reflections += run.write(MemoryKind.REFLECTION, lessons, mapping, by_id, 0.6)
                run.report.facts += run.write(fact_kind, reply.get("facts"), mapping, by_id, 0.6)
        if "insights" in steps:
            current = bank.memories([MemoryKind.INSIGHT], namespace) + (  # active ones (the default status)
                bank.memories([MemoryKind.INSIGHT], namespace, MemoryStatus.CANDIDATE) if gate else [])
            current = sorted(current, key=lambda r: (-r.votes, r.created_at))[:max_insights_in_prompt]
            rules = {f"R{i}": r for i, r in enumerate(current, start=1)}
            listing = "\n".join(f"{label} ({r.votes} votes{', candidate' if r.status is MemoryStatus.CANDIDATE else ''}"
                                f"): {r.text}" for label, r in rules.items()) or "(none yet)"  # fmt: skip
            # With no rules yet a small model answers "nothing changes" to every batch, so the first batch must
            # propose at least one.
            closing = tpl["insights_update" if rules else "insights_first"].format(max_ops=max_items)
            prompt = tpl["insights"].format(insights=listing, experiences=exp_text, max_ops=max_items,
                                            closing=closing)  # fmt: skip
            reply = run.ask("insights", prompt, ids, schema=None if rules else _first_rules_schema(max_items))
            if reply is None:
                ok = False
            else:
                run.insights(reply.get("operations"), mapping, by_id, rules)
        if "summary" in steps and len(batch) > 1:
            reply = run.ask("summary", tpl["summary"].format(experiences=exp_text, max_words=summary_words), ids)
            if reply is None:
                ok = False
            else:
                evidence = resolve_labels(reply.get("evidence"), mapping) or ids
                written = run.write(MemoryKind.SUMMARY, [{"text": reply.get("summary", ""), "evidence": [
                    label for label, mid in mapping.items() if mid in evidence]}], mapping, by_id, 0.5)  # fmt: skip
                run.report.summaries += written
        if ok:
            now = bank.clock()
            with bank.ledger.tx() as conn:
                conn.executemany("UPDATE memories SET reflected_at = ? WHERE id = ?", [(now, i) for i in ids])
            run.report.experiences_reflected += len(ids)
    return run.report
