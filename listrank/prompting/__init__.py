"""Prompt templates as data: loading, rendering, the answer budget, and reading answers."""
