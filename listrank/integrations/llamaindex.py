"""LlamaIndex: ``ListrankRerank``, a node postprocessor that reorders retrieved nodes with a
listrank pipeline (``index.as_query_engine(node_postprocessors=[...])``). Extra
``llamaindex``.

    from listrank import Reranker
    from listrank.integrations.llamaindex import ListrankRerank
    postprocessor = ListrankRerank(reranker=Reranker(), top_n=5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from pydantic import Field

from listrank.errors import InputError
from listrank.integrations._rank import SupportsRerank, rerank_texts, reranker_from_config


class ListrankRerank(BaseNodePostprocessor):
    """Reranks nodes by their embedding-mode content (text plus the metadata the index
    embeds, as LlamaIndex's own rerankers read it); keeps the best ``top_n`` (all when None)
    with ``score`` set to the listwise relevance score."""

    reranker: Any = Field(description="a listrank Reranker (or anything with .rerank)")
    top_n: int | None = 3

    @classmethod
    def class_name(cls) -> str:
        return "ListrankRerank"

    @classmethod
    def from_config(cls, path: str | Path, *, top_n: int | None = 3) -> ListrankRerank:
        """Build the pipeline from a TOML file, as ``listrank rerank --config`` does."""
        return cls(reranker=reranker_from_config(path), top_n=top_n)

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise InputError("ListrankRerank needs the query (query_bundle or query_str)")
        reranker: SupportsRerank = self.reranker
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        order = rerank_texts(reranker, query_bundle.query_str, texts)
        return [NodeWithScore(node=nodes[i].node, score=s) for i, s in order[: self.top_n]]
