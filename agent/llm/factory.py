"""One factory: a typed :class:`LLMConfig` in, a LangChain chat model out."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from agent.errors import UsageError
from agent.llm.config import BACKENDS, LLMConfig
from agent.llm.llamacpp import LlamaCppChatModel
from agent.llm.models import LOCAL_MODELS, ensure_model


def make_chat_model(config: LLMConfig) -> BaseChatModel:
    """Build the chat model the config asks for.

    ``local``/``local-small`` assemble (once) and load the GGUF lazily on first call; ``openai``
    builds a ``ChatOpenAI`` against ``config.base_url`` (None: the OpenAI API itself).
    """
    if config.backend in LOCAL_MODELS:
        spec = LOCAL_MODELS[config.backend]
        path = ensure_model(spec, config.cache_dir)
        return LlamaCppChatModel(
            model_path=path,
            model_name=spec.name,
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_batch=config.n_batch,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            seed=config.seed,
            verbose=config.verbose,
        )
    if config.backend == "openai":
        from langchain_openai import ChatOpenAI

        if config.api_key is None and config.base_url is None:
            raise UsageError(
                "the openai backend talks to api.openai.com but no API key was given; "
                "set OPENAI_API_KEY, or pass --base-url for a local OpenAI-compatible server"
            )
        return ChatOpenAI(
            model=config.model,
            base_url=config.base_url,
            api_key=config.api_key or "not-needed",  # type: ignore[arg-type]
            temperature=config.temperature,
            max_completion_tokens=config.max_tokens,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
    raise UsageError(f"unknown LLM backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
