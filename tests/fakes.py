"""A scripted, strict chat-model double for unit tests of logic (never for integration tests).

It replays a given list of replies (or calls a function of the messages), records every prompt it
saw, and fails loudly when the script runs out, after simonw/llm's ``MockModel.enqueue`` and
pydantic-ai's ``FunctionModel``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field


class ScriptExhausted(BaseException):
    """The code under test called the model more often than the test scripted.

    A ``BaseException`` so that code which counts and survives model errors (``except Exception``)
    cannot swallow it: a test whose script runs out fails loudly.
    """


Reply = str | Callable[[list[BaseMessage]], str]


class ScriptedChatModel(BaseChatModel):
    """Replays ``replies`` in order; each is a string or a function of the messages.

    ``calls`` holds every message list it received, and ``kwargs_seen`` the extra keyword
    arguments (e.g. ``response_format``) of each call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[Reply] = Field(default_factory=list)
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    kwargs_seen: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def enqueue(self, *replies: Reply) -> ScriptedChatModel:
        """Append replies to the script; returns self for chaining."""
        self.replies.extend(replies)
        return self

    @property
    def prompts(self) -> list[str]:
        """The text of the last message of every call, in order."""
        return [call[-1].text if call else "" for call in self.calls]

    def _next(self, messages: Sequence[BaseMessage], kwargs: dict[str, Any]) -> str:
        self.calls.append(list(messages))
        self.kwargs_seen.append(dict(kwargs))
        if not self.replies:
            last = messages[-1].text if messages else ""
            raise ScriptExhausted(
                f"call #{len(self.calls)} has no scripted reply; last message was: {last[:300]!r}"
            )
        reply = self.replies.pop(0)
        return reply(list(messages)) if callable(reply) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self._next(messages, kwargs)
        n_in = sum(len(m.text.split()) for m in messages)
        usage = {"input_tokens": n_in, "output_tokens": len(text.split())}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        message = AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next(messages, kwargs)
        for i, word in enumerate(text.split(" ")):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))


def memory_actor(chat: BaseChatModel, config: Any = None) -> Any:
    """An actor with the policies and plug-in its configuration names (what benches build; the TextWorld plug-in by
    default), for tests of memory-driven steps."""
    from agent.core.state import ActorConfig
    from agent.families.registry import build_actor

    return build_actor(chat, config or ActorConfig())
