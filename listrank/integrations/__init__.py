"""Adapters for RAG frameworks (each behind its own extra): ``listrank.integrations.langchain``
(a document compressor) and ``listrank.integrations.llamaindex`` (a node postprocessor)."""
