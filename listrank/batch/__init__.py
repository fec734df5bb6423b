"""Batch reranking of large query sets: deterministic shards, resume, in-process or on Ray.

from listrank.batch import BatchJob, run_batch
"""

from listrank.batch.job import BatchJob, BatchReport, run_batch

__all__ = ["BatchJob", "BatchReport", "run_batch"]
