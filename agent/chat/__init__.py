"""Chatting with the agent: a session that remembers one user across sittings, with its clock and commands."""
