"""What the agent knows about one family of environments, apart from the agent itself.

Each sub-package is pure functions over an environment family's action and reply strings. Only the
TextWorld family exists (``textworld``): the verb grammar of its actions, placing by analogy and by
likeness, how-to facts from its recipes. The core still consults it (see docs/design.md); the
decisions it drives are made by policies (:mod:`agent.policies`) that a caller passes in.
"""
