"""How the agent evolves: the options of the evolution loop (:mod:`agent.learning.evolve`), saved with every bench."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EvolutionConfig(BaseModel):
    """How the agent evolves."""

    trials: int = Field(default=2, ge=1)
    """Attempts per training task (Reflexion retries after a failure)."""
    samples: int = Field(default=1, ge=1)
    """Episodes per trial (self-consistency): the first with the model's own settings, the others sampled at
    ``sample_temperature``; a trial succeeds when one sample does, and of several solved samples only those
    whose solution agrees with the majority's are stored as examples."""
    sample_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    """Temperature of the extra samples."""
    rationalize: bool = True
    """STaR: when every trial of a training task failed, learn from the benchmark's gold path."""
    reflect_every: int = Field(default=10, ge=0)
    """Run ``reflect`` (insights with votes) after this many training tasks; 0: never."""
    reflect_steps: tuple[str, ...] = ("insights",)
    """Which reflect steps to run (``lessons``, ``insights``, ``summary``)."""
    reflect_all: bool = True
    """Each reflect takes every pending experience, batch after batch, in batches of ``reflect_tokens``; False: one
    batch of 8, the rest left for a later reflect (how a bench saved without this option resumes)."""
    reflect_tokens: int = Field(default=1800, ge=100)
    """Tokens of experiences in one reflect prompt, sized to fit the model's context (4,096 tokens, with the
    instructions, the current rules and the reply)."""
    gate: bool = True
    """The stability-plasticity gate (:mod:`agent.learning.gate`): a rule reflection writes, or an edit of one,
    is a candidate until a paired trial on training tasks (with and without it, the model at temperature 0)
    shows it does not hurt; each reflect is followed by a pass of trials. False: rules are trusted when written."""
    gate_seeds: int = Field(default=2, ge=1)
    """Training tasks per trial (the rule's own evidence first, then the latest tasks)."""
    gate_rules: int = Field(default=3, ge=1)
    """Most rules tried in one pass (new candidates first, then active rules least recently tried)."""
    credit_shown: bool = False
    """Credit every memory an episode showed with the episode's score; False (counterfactual credit): a memory a
    step stood on is credited with what that step earned, and a rule with its trials (:mod:`memory.trials`)."""
    forget_every: int = Field(default=10, ge=0)
    """Run ``forget`` after this many training tasks; 0: never."""
    max_steps: int = Field(default=30, ge=1)
    """Step limit of an episode."""
    memory_budget: int = Field(default=700, ge=0)
    """Tokens of memory in the prompt."""
    recalls: int = Field(default=2, ge=0)
    """Retrievals an episode may add when a step brings new things into view (a recipe, a fridge's contents);
    0: memory is retrieved once, before the first step."""
    howtos: bool = True
    """Apply how-to facts (:mod:`agent.families.textworld.howto`): an instruction line a game shows ("grill the
    pork chop") tags the action earlier replies said does it, and penalises the other known ways."""
    kept: bool = True
    """Write and apply kept facts (:meth:`Episode.kept_steps`): what solved episodes took and held to the end (the
    knife that slicing needs) is taken when in view and not let go of (``ActorConfig.keep_earned``)."""
    check_rules: bool = True
    """Refuse rules reflection proposes that name an action their evidence never took ("take the stove" when the
    episodes only cooked with it; :mod:`agent.learning.grounding`)."""
    train_kinds: str = "full"
    """Which memory kinds the agent retrieves while training (an ablation name)."""
