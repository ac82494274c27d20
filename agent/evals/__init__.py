"""Conversation-memory evaluations on real data: LoCoMo (recall of evidence turns, answer F1) and MemoryBank
(day-by-day chat replay with questions)."""
