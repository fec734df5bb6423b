"""Batch reranking of large query sets: deterministic shards, resume, in-process or on Ray.

from listrank.batch import BatchJob, run_batch
"""

from listrank.batch.job import BatchReport, run_batch
from listrank.batch.spec import BatchJob

__all__ = ["BatchJob", "BatchReport", "run_batch"]
