"""Memory policies: rules that take a step from memory without asking the model.

``FollowMemory`` is general (an untried action memory says earned points in similar tasks). The placing
policies read TextWorld-style actions (:mod:`agent.families.textworld`). :mod:`agent.policies.registry` lists
them explicitly; an :class:`agent.core.actor.Actor` uses only those it is given.
"""
