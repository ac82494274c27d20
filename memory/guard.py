"""Text that reads as an instruction to the model, flagged on its way into the bank.

A memory is data: an observation, a user's message, an imported line, the agent's own rule. Text in it that speaks
to the model itself ("ignore previous instructions", "SYSTEM: ...", chat-template tokens, "reveal your prompt") is
an injection attempt whatever its source; the bank stores it with ``meta["flagged"]`` naming the pattern, and
reflection never promotes it (nor anything proposed from it) to a rule, an insight or a user profile.

The patterns are deliberately narrow: game text ("You are now in the kitchen"), a user's wishes ("from now on call
me Dana") and the agent's own rules ("always open the door first") must pass. ``benchmarks/bad_input.py`` and the
tests run them over real LoCoMo, MemoryBank and TextWorld text to keep false alarms at zero.
"""

from __future__ import annotations

import re

ORIGINS = ("agent", "reflection", "environment", "user", "import")
"""Where a memory's text came from: the agent's own writing, its reflection (a model), an environment's
observation, a user's message, or an imported file (``meta["origin"]``)."""

_VERB = r"(?:ignore|disregard|forget|override|bypass|skip)"
_WHAT = r"(?:instructions?|rules|prompts?|directions|guidelines|guardrails|system message)"
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b{_VERB}\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*(?:(?:previous|prior|above|earlier|"
                rf"original|system|initial|preceding)\s+)+{_WHAT}", re.I),
     "asks the model to ignore its instructions"),
    (re.compile(rf"\b{_VERB}\s+(?:all\s+|your\s+)+{_WHAT}", re.I), "asks the model to ignore its instructions"),
    (re.compile(r"(?:^|\n)\s*(?:#+\s*)?(?:system|developer)\s*(?:prompt|message)?\s*:", re.I),
     "speaks as the system"),
    (re.compile(r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>|\[/?INST\]|"
                r"<</?SYS>>", re.I),
     "holds chat-template tokens"),
    (re.compile(r"\bnew\s+(?:system\s+)?instructions?\s*:", re.I), "gives the model new instructions"),
    (re.compile(r"\b(?:reveal|print|repeat|output|show)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+|hidden\s+)?"
                r"(?:prompt|instructions)\b", re.I),
     "asks for the model's prompt"),
    (re.compile(r"\byou\s+are\s+now\s+(?:dan\b|jailbroken|unrestricted|in\s+developer\s+mode|free\s+of)", re.I),
     "tells the model it is unrestricted"),
    (re.compile(r"\b(?:do\s+not|don't|never)\s+(?:follow|obey)\s+(?:your|the|any)\s+(?:previous\s+)?"
                r"(?:instructions|rules|task|prompt)\b", re.I),
     "asks the model to disobey its instructions"),
)  # fmt: skip
"""(pattern, why) pairs; the first that matches names the flag."""


def instruction_flag(text: str) -> str | None:
    """Why ``text`` reads as an instruction to the model (a few words), or None when it does not."""
    for pattern, why in PATTERNS:
        match = pattern.search(text)
        if match is not None:
            return f"{why}: {match.group(0).strip()[:60]!r}"
    return None
