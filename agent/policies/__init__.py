"""Memory policies: rules that take a step from memory without asking the model.

``FollowValue`` takes what the facts of alike states value (the general agent); ``FollowMemory`` takes what
recall tagged as earned points (the TextWorld plug-in's recall tags). The TextWorld placing policies live with
their plug-in; :func:`agent.families.registry.policies_for` lists what an actor gets, and an
:class:`agent.core.actor.Actor` uses only those it is given.
"""
