"""listrank: zero-shot listwise reranking of search candidates with large language models."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from listrank.errors import (
    BackendError,
    CapabilityError,
    ConfigError,
    ContextLengthError,
    InputError,
    ListrankError,
    ModelLoadError,
    PromptTooLongError,
    QueriesFailedError,
    RetryExhaustedError,
    TemplateError,
    UnknownComponentError,
)
from listrank.pipeline.reranker import Reranker
from listrank.prompting.parsing import ParseResult, parse_permutation
from listrank.prompting.templates import PromptTemplate, load_template, template_names
from listrank.types import (
    CallRecord,
    Candidate,
    Judgement,
    Plan,
    Query,
    RankedCandidate,
    Ranking,
    RepairStats,
    Trace,
)

try:
    __version__ = _version("listrank")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BackendError",
    "CallRecord",
    "Candidate",
    "CapabilityError",
    "ConfigError",
    "ContextLengthError",
    "InputError",
    "Judgement",
    "ListrankError",
    "ModelLoadError",
    "ParseResult",
    "Plan",
    "PromptTemplate",
    "PromptTooLongError",
    "QueriesFailedError",
    "Query",
    "RankedCandidate",
    "Ranking",
    "RepairStats",
    "Reranker",
    "RetryExhaustedError",
    "TemplateError",
    "Trace",
    "UnknownComponentError",
    "__version__",
    "load_template",
    "parse_permutation",
    "template_names",
]
