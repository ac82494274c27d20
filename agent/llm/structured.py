"""Ask a chat model for a JSON object matching a schema, on every backend.

The in-process llama.cpp model is constrained by a grammar built from the schema
(``response_format={"type": "json_object", "schema": ...}``), so its output always parses. An
OpenAI-compatible endpoint gets ``response_format`` of type ``json_schema`` (OpenAI, vLLM); servers
that reject it (the llama-cpp-python server only knows ``json_object`` with a ``schema``) are retried
once in that dialect, and the working dialect is remembered per endpoint. Any other model (the test
double, a plain endpoint) is asked through the prompt alone. Every reply is parsed and validated;
a bad reply is sent back to the model with the error, up to ``retries`` times, and if it never
validates a :class:`ModelOutputError` carrying the raw text is raised for the caller to count.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from agent.errors import ModelOutputError
from agent.llm.llamacpp import LlamaCppChatModel
from memory.reflect import JsonLLM

log = logging.getLogger(__name__)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
# Per endpoint (base_url + model): the response_format dialect that worked last.
_DIALECTS: dict[str, str] = {}


@dataclass
class JsonReply:
    """A validated JSON object from the model, with what it cost."""

    data: dict[str, Any]
    """The parsed object; it validates against the schema."""
    raw: str
    """The model's text for the successful attempt."""
    attempts: int
    """How many model calls it took (1 when the first reply was valid)."""
    input_tokens: int = 0
    """Prompt tokens summed over the attempts (as reported by the backend; 0 if unknown)."""
    output_tokens: int = 0
    """Generated tokens summed over the attempts."""
    errors: list[str] = field(default_factory=list)
    """Why earlier attempts were rejected."""


def extract_json(text: str) -> Any:
    """Parse the first JSON object in ``text``, tolerating code fences, surrounding prose and raw control characters
    inside strings (a small model writes a newline into a rule's text as it is, not as ``\\n``)."""
    text = text.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the reply")
    decoder = json.JSONDecoder(strict=False)
    obj, _ = decoder.raw_decode(text[start:])
    return obj


def validate(obj: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``obj`` if it is an object that validates against ``schema``; raise ValueError otherwise."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    try:
        jsonschema.validate(obj, schema)
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise ValueError(f"{path}: {exc.message}") from None
    return obj


def _endpoint_key(model: BaseChatModel) -> str:
    return f"{getattr(model, 'openai_api_base', '')}|{getattr(model, 'model_name', '')}"


def _is_openai(model: BaseChatModel) -> bool:
    return type(model).__name__ in {"ChatOpenAI", "AzureChatOpenAI"}


def _formats(model: BaseChatModel, schema: dict[str, Any], name: str) -> list[dict[str, Any] | None]:
    """response_format dialects to try, best first; None means: ask through the prompt only."""
    if isinstance(model, LlamaCppChatModel):
        return [{"type": "json_object", "schema": schema}]
    if _is_openai(model):
        dialects = {
            "json_schema": {"type": "json_schema", "json_schema": {"name": name, "schema": schema}},
            "json_object": {"type": "json_object", "schema": schema},
        }
        known = _DIALECTS.get(_endpoint_key(model))
        order = [known] if known else ["json_schema", "json_object"]
        return [dialects[d] for d in order]
    return [None]


def _invoke(
    model: BaseChatModel, messages: list[BaseMessage], fmt: dict[str, Any] | None, options: Mapping[str, Any]
) -> AIMessage:
    if fmt is None:
        reply = model.invoke(messages, **options)
    else:
        reply = model.invoke(messages, response_format=fmt, **options)
    if not isinstance(reply, AIMessage):  # pragma: no cover - every chat model returns AIMessage
        raise TypeError(f"chat model returned {type(reply).__name__}")
    return reply


def _call_with_dialect(
    model: BaseChatModel, messages: list[BaseMessage], schema: dict[str, Any], name: str,
    options: Mapping[str, Any],
) -> AIMessage:  # fmt: skip
    formats = _formats(model, schema, name)
    last_error: Exception | None = None
    for fmt in formats:
        try:
            reply = _invoke(model, messages, fmt, options)
        except Exception as exc:  # an endpoint rejecting a dialect: try the next one
            if fmt is None or not _is_openai(model) or not _is_format_rejection(exc):
                raise
            log.info("endpoint rejected response_format %s (%s); trying the next dialect", fmt["type"], exc)
            last_error = exc
            continue
        if fmt is not None and _is_openai(model):
            _DIALECTS[_endpoint_key(model)] = fmt["type"]
        return reply
    assert last_error is not None
    raise last_error


def _is_format_rejection(exc: Exception) -> bool:
    # llama-cpp-python's server answers an unknown dialect with 500 and a validation message.
    status = getattr(exc, "status_code", None)
    return status in {400, 422} or (status == 500 and "response_format" in str(exc))


def complete_json(
    model: BaseChatModel,
    messages: Sequence[BaseMessage],
    schema: dict[str, Any],
    *,
    retries: int = 2,
    name: str = "reply",
    constrain: dict[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> JsonReply:
    """Ask ``model`` for a JSON object valid against ``schema``.

    Args:
        model: any LangChain chat model (local llama.cpp, ChatOpenAI, or a test double).
        messages: the conversation; its last message should say what the object must contain.
        schema: a JSON schema of type ``object``.
        retries: how many times a bad reply is sent back with the error before giving up.
        name: schema name sent to endpoints that want one.
        constrain: a stricter schema sent to the backend for constrained decoding (e.g. with an
            ``enum`` of valid actions) while replies are validated against ``schema``; lets the
            caller map a near-miss from an unconstrained backend instead of retrying it.
        options: extra call options for the model, e.g. ``{"temperature": 0.7, "seed": 3}`` for a sample.

    Raises:
        ModelOutputError: no reply validated; ``.raw`` holds the last reply's text.
    """
    history = list(messages)
    errors: list[str] = []
    input_tokens = output_tokens = 0
    raw = ""
    for attempt in range(1, retries + 2):
        reply = _call_with_dialect(model, history, constrain or schema, name, options or {})
        raw = reply.text
        usage: dict[str, Any] = dict(reply.usage_metadata or {})
        input_tokens += int(usage.get("input_tokens", 0))
        output_tokens += int(usage.get("output_tokens", 0))
        try:
            data = validate(extract_json(raw), schema)
        except ValueError as exc:
            errors.append(str(exc))
            log.warning("model reply %d rejected (%s): %.200r", attempt, exc, raw)
            history = [
                *history,
                AIMessage(content=raw),
                HumanMessage(
                    content=f"That reply is not valid ({exc}). Answer again with only a JSON object "
                    f"matching this schema: {json.dumps(schema)}"
                ),
            ]
            continue
        return JsonReply(data, raw, attempt, input_tokens, output_tokens, errors)
    raise ModelOutputError(
        f"the model gave no valid JSON after {retries + 1} attempts: {errors[-1] if errors else ''}", raw
    )


def json_llm(chat: BaseChatModel, retries: int = 1) -> JsonLLM:
    """Adapt a chat model into the memory package's injected ``JsonLLM`` protocol."""

    def call(messages: list[dict[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
        converted: list[BaseMessage] = [
            SystemMessage(m["content"]) if m.get("role") == "system" else HumanMessage(m["content"]) for m in messages
        ]
        return complete_json(chat, converted, schema, retries=retries, name="reflection").data

    return call
