"""LangChain: ``ListrankRerank``, a document compressor that reorders retrieved Documents with
a listrank pipeline (use it in a ``ContextualCompressionRetriever``). Extra ``langchain``.

    from listrank import Reranker
    from listrank.integrations.langchain import ListrankRerank
    compressor = ListrankRerank(reranker=Reranker(), top_n=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field

from listrank.integrations._rank import SupportsRerank, rerank_texts, reranker_from_config


class ListrankRerank(BaseDocumentCompressor):
    """Reranks Documents by ``page_content``; returns the best ``top_n`` (all when None) as
    copies with ``metadata["relevance_score"]`` set, as LangChain's other rerankers do."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    reranker: Any = Field(description="a listrank Reranker (or anything with .rerank)")
    top_n: int | None = 3

    @classmethod
    def from_config(cls, path: str | Path, *, top_n: int | None = 3) -> ListrankRerank:
        """Build the pipeline from a TOML file, as ``listrank rerank --config`` does."""
        return cls(reranker=reranker_from_config(path), top_n=top_n)

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        reranker: SupportsRerank = self.reranker
        order = rerank_texts(reranker, query, [d.page_content for d in documents])
        out = []
        for index, score in order[: self.top_n]:
            doc = documents[index]
            out.append(
                Document(
                    page_content=doc.page_content,
                    metadata={**doc.metadata, "relevance_score": score},
                    id=doc.id,
                )
            )
        return out
