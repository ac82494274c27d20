"""Optional per-family plug-ins: what the agent knows about one family of environments, apart from the agent.

A plug-in implements the hooks of :class:`agent.core.family.Family` (and may bring memory policies); the general
agent (core, learning, policies) never imports one. Only the TextWorld family exists (``textworld``): the verb
grammar of its actions, placing by analogy and by likeness, how-to facts from its recipes, and the recall that
reads them. :mod:`agent.families.registry` turns ``ActorConfig.families`` into a plug-in and its policies.
"""
