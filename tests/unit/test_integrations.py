"""The LangChain compressor and the LlamaIndex postprocessor, with the real libraries."""

from __future__ import annotations

from pathlib import Path

import pytest

from listrank.errors import InputError
from tests.unit.server_helpers import CountingJudge, fake_reranker

GRADES = [3, 9, 1, 7, 5]
TEXTS = [f"passage {i} grade={g}" for i, g in enumerate(GRADES)]
BEST_FIRST = sorted(range(len(GRADES)), key=lambda i: -GRADES[i])


def test_langchain_compressor_reorders_documents() -> None:
    pytest.importorskip("langchain_core", reason="needs the langchain extra")
    from langchain_core.documents import Document

    from listrank.integrations.langchain import ListrankRerank

    docs = [Document(page_content=t, metadata={"n": i}, id=f"d{i}") for i, t in enumerate(TEXTS)]
    compressor = ListrankRerank(reranker=fake_reranker(), top_n=3)
    out = compressor.compress_documents(docs, "which passage")
    assert [d.metadata["n"] for d in out] == BEST_FIRST[:3]
    assert [d.id for d in out] == [f"d{i}" for i in BEST_FIRST[:3]]
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    assert "relevance_score" not in docs[0].metadata  # inputs are not mutated

    every = ListrankRerank(reranker=fake_reranker(), top_n=None)
    assert len(every.compress_documents(docs, "q")) == len(docs)


def test_langchain_async_and_edge_cases() -> None:
    pytest.importorskip("langchain_core", reason="needs the langchain extra")
    import asyncio

    from langchain_core.documents import Document

    from listrank.integrations.langchain import ListrankRerank

    judge = CountingJudge()
    compressor = ListrankRerank(reranker=fake_reranker(judge), top_n=2)
    docs = [Document(page_content=t) for t in TEXTS]
    out = asyncio.run(compressor.acompress_documents(docs, "q"))
    assert [d.page_content for d in out] == [TEXTS[i] for i in BEST_FIRST[:2]]
    assert compressor.compress_documents([], "q") == []
    assert judge.calls == 1  # no model call for no documents
    with pytest.raises(InputError, match="query"):
        compressor.compress_documents(docs, "  ")


def test_langchain_compressor_in_a_compression_retriever() -> None:
    pytest.importorskip("langchain_core", reason="needs the langchain extra")
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from listrank.integrations.langchain import ListrankRerank

    class ListRetriever(BaseRetriever):
        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[Document]:
            return [Document(page_content=t) for t in TEXTS]

    compressor = ListrankRerank(reranker=fake_reranker(), top_n=2)
    chain = ListRetriever() | (lambda docs: compressor.compress_documents(docs, "q"))
    out = chain.invoke("q")
    assert [d.page_content for d in out] == [TEXTS[i] for i in BEST_FIRST[:2]]


def test_llamaindex_postprocessor_reorders_nodes() -> None:
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra")
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from listrank.integrations.llamaindex import ListrankRerank

    nodes = [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.5) for i, t in enumerate(TEXTS)
    ]
    post = ListrankRerank(reranker=fake_reranker(), top_n=3)
    out = post.postprocess_nodes(nodes, query_str="which passage")
    assert [n.node.node_id for n in out] == [f"n{i}" for i in BEST_FIRST[:3]]
    scores = [n.score for n in out]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0
    again = post.postprocess_nodes(nodes, query_bundle=QueryBundle("which passage"))
    assert [n.node.node_id for n in again] == [n.node.node_id for n in out]
    assert ListrankRerank(reranker=fake_reranker(), top_n=None).postprocess_nodes(
        nodes, query_str="q"
    ).__len__() == len(nodes)
    assert post.postprocess_nodes([], query_str="q") == []
    with pytest.raises(InputError, match="query"):
        post.postprocess_nodes(nodes)


def test_llamaindex_reads_embedded_metadata() -> None:
    pytest.importorskip("llama_index.core", reason="needs the llamaindex extra")
    from llama_index.core.schema import NodeWithScore, TextNode

    from listrank.integrations.llamaindex import ListrankRerank

    # the grade is only in the metadata, which LlamaIndex puts in the embed-mode content
    nodes = [
        NodeWithScore(node=TextNode(text="same", metadata={"label": f"grade={g}"})) for g in GRADES
    ]
    out = ListrankRerank(reranker=fake_reranker(), top_n=None).postprocess_nodes(
        nodes, query_str="q"
    )
    assert [n.node.metadata["label"] for n in out] == [f"grade={GRADES[i]}" for i in BEST_FIRST]


@pytest.mark.parametrize("which", ["langchain", "llamaindex"])
def test_adapters_build_from_a_pipeline_config(
    which: str, tmp_path: Path, tiny_model_dir: Path
) -> None:
    module = {"langchain": "langchain_core", "llamaindex": "llama_index.core"}[which]
    pytest.importorskip(module, reason=f"needs the {which} extra")
    from importlib import import_module

    cls = import_module(f"listrank.integrations.{which}").ListrankRerank
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\ndevice = "cpu"\n'
        '[strategy]\nname = "single"\n',
        encoding="utf-8",
    )
    adapter = cls.from_config(config, top_n=None)
    assert adapter.reranker.strategy.name == "single"
    if which == "langchain":
        from langchain_core.documents import Document

        out = adapter.compress_documents([Document(page_content=t) for t in TEXTS], "q")
        assert sorted(d.page_content for d in out) == sorted(TEXTS)
    else:
        from llama_index.core.schema import NodeWithScore, TextNode

        nodes = [NodeWithScore(node=TextNode(text=t)) for t in TEXTS]
        out = adapter.postprocess_nodes(nodes, query_str="q")
        assert sorted(n.node.get_content() for n in out) == sorted(TEXTS)
