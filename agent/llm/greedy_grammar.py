"""Greedy decoding under a grammar that checks the best token first (what llama.cpp's own sampler does).

llama-cpp-python's sampler chain applies the grammar to the whole vocabulary (151k tokens for Qwen2.5)
before every greedy pick, a large share of each output token's time on a small CPU.
At temperature 0 the pick is the arg-max of the logits the grammar allows, so if the unconstrained
arg-max is allowed it *is* the pick; only when the grammar rejects it is the whole vocabulary filtered.
The output is token for token the same as the chain's; only the time differs.

:class:`GreedyGrammarLlama` uses this sampler whenever a completion has a grammar, temperature 0 and
no penalties or logits processors (every structured call of the actor and of reflection); any other
completion goes through llama-cpp-python's own chain.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from llama_cpp import Llama, llama_cpp

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GreedyGrammarSampler:
    """A grammar sampler for greedy decoding; one per completion (the grammar state advances per token).

    llama-cpp-python only calls ``sample`` on the object its ``_init_sampler`` returns (and drops it after
    the completion), so that and ``close`` are all it needs."""

    def __init__(self, llama: Llama, grammar: Any) -> None:
        self._n_vocab = int(llama.n_vocab())
        self._grammar = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * self._n_vocab)()
        self._all_np = np.frombuffer(memoryview(self._all), dtype=_TOKEN_DATA)  # a view: writes reach llama.cpp
        self._all_np["id"] = np.arange(self._n_vocab, dtype=np.intc)
        self.fast_picks = 0
        """Tokens whose unconstrained arg-max the grammar allowed (no full pass)."""
        self.full_passes = 0
        """Tokens for which the grammar had to filter the whole vocabulary."""

    def _allowed(self, data: Any, size: int) -> None:
        array = llama_cpp.llama_token_data_array(data=data, size=size, selected=-1, sorted=False)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(array))

    def sample(self, ctx: Any, idx: int = -1) -> int:
        """The greedy token at output position ``idx`` that the grammar allows; the grammar accepts it."""
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
        token = int(np.argmax(logits))
        self._one[0] = llama_cpp.llama_token_data(token, float(logits[token]), 0.0)
        self._allowed(self._one, 1)
        if np.isfinite(self._one[0].logit):
            self.fast_picks += 1
        else:  # rejected: let the grammar filter the whole vocabulary and take the best that is left
            self.full_passes += 1
            self._all_np["logit"] = logits
            self._all_np["p"] = 0.0
            self._allowed(self._all, self._n_vocab)
            token = int(self._all_np["id"][np.argmax(self._all_np["logit"])])
        llama_cpp.llama_sampler_accept(self._grammar, token)
        return token

    def close(self) -> None:
        """Free the grammar (also on garbage collection)."""
        if self._grammar:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None

    def __del__(self) -> None:
        self.close()


class GreedyGrammarLlama(Llama):
    """``llama_cpp.Llama`` whose greedy grammar-constrained completions use :class:`GreedyGrammarSampler`."""

    def _init_sampler(self, *args: Any, **kwargs: Any) -> Any:
        grammar = kwargs.get("grammar")
        plain = (
            kwargs.get("temp") == 0.0
            and kwargs.get("logits_processor") is None
            and kwargs.get("repeat_penalty", 1.0) == 1.0
            and kwargs.get("frequency_penalty", 0.0) == 0.0
            and kwargs.get("presence_penalty", 0.0) == 0.0
            and kwargs.get("mirostat_mode", 0) == 0
        )
        if grammar is None or args or not plain:
            return super()._init_sampler(*args, **kwargs)
        return GreedyGrammarSampler(self, grammar)
