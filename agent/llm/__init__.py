"""The LLM layer: one typed config, one factory returning a LangChain chat model, structured JSON."""

from agent.llm.config import BACKENDS, Backend, LLMConfig
from agent.llm.factory import make_chat_model
from agent.llm.models import LOCAL_MODELS, LocalModelSpec, ensure_model
from agent.llm.structured import JsonReply, complete_json

__all__ = [
    "BACKENDS",
    "LOCAL_MODELS",
    "Backend",
    "JsonReply",
    "LLMConfig",
    "LocalModelSpec",
    "complete_json",
    "ensure_model",
    "make_chat_model",
]
