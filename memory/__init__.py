"""External memory bank: insert, retrieve, reflect and forget, on Chroma."""
