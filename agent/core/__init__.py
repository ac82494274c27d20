"""What one step and one episode are: the records, the prompt, the actor and the episode loop.

The actor asks the model unless one of the memory policies it was given (:mod:`agent.policies`) decides first;
the episode loop runs it against any :class:`envs.base.Env` and records who chose each step.
"""
