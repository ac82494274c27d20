"""``evolve demo``: the main job in small, with the embedded default stack.

It asks the model a question (streaming the answer), writes a few experiences into a persistent
Chroma memory, reads the most relevant one back, and asks the model again with that memory in its
prompt, printing each step and its timing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from rich.console import Console

from agent.llm.config import LLMConfig
from agent.llm.factory import make_chat_model

EXPERIENCES = [
    "In the kitchen game, the blender was accepted on the counter (score went up).",
    "Putting the dirty socks in the fridge was rejected; they belong in the washing machine.",
    "Opening the fridge before taking the milk saved two steps.",
]


def run_demo(config: LLMConfig, memory_dir: Path, console: Console) -> None:
    """Run the demo, printing what happens."""
    import chromadb
    from chromadb.config import Settings

    from memory.embeddings import ChromaEmbeddingFunction

    start = time.perf_counter()
    console.rule("1. load the model")
    chat = make_chat_model(config)
    question = "Where should a blender go in a house? Answer in one short sentence."
    console.print(f"[bold]user:[/] {question}")
    console.print("[bold]agent:[/] ", end="")
    for chunk in chat.stream([HumanMessage(question)]):
        console.print(chunk.text, end="", soft_wrap=True)
    console.print(f"\n[dim]({time.perf_counter() - start:.1f} s)[/]")

    console.rule("2. write experiences to memory")
    memory_dir.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(path=str(memory_dir), settings=Settings(anonymized_telemetry=False))
    embedding_function: Any = ChromaEmbeddingFunction()
    collection = client.get_or_create_collection(
        "demo-experience", embedding_function=embedding_function, metadata={"hnsw:space": "cosine"}
    )
    ids = [f"exp-{i}" for i in range(len(EXPERIENCES))]
    collection.upsert(ids=ids, documents=EXPERIENCES)
    console.print(f"{collection.count()} memories in {memory_dir}")

    console.rule("3. retrieve and answer with memory")
    hit = collection.query(query_texts=[question], n_results=1)
    memory = (hit["documents"] or [[""]])[0][0]
    distance = (hit["distances"] or [[0.0]])[0][0]
    console.print(f"retrieved (cosine distance {distance:.2f}): {memory}")
    reply = chat.invoke(
        [SystemMessage(f"Relevant memory from earlier episodes: {memory}"), HumanMessage(question)]
    )
    console.print(f"[bold]agent with memory:[/] {reply.text.strip()}")
    console.print(f"[green]demo finished in {time.perf_counter() - start:.1f} s[/]")
