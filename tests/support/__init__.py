"""Test helpers shared by the suite: stand-in and real OpenAI-compatible servers, fault proxy."""
