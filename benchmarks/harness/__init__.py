"""Evaluation harness shared by every benchmark: data, sandboxed grading, and reporting.

Modules: `datasets` (tasks and editor documents), `sandbox` (running untrusted code),
`evaluate` (HumanEval+ base/plus and infilling checks), `stats` (percentiles, summaries,
JSON/Markdown writers), `plot` (latency PNG), `progress` (stderr progress line).
"""

from .datasets import (
    CompletionDocument,
    CursorStyle,
    HumanEvalTask,
    InfillTask,
    data_dir,
    load_humaneval_plus,
    load_single_line_infilling,
)
from .evaluate import (
    Reference,
    Result,
    TimeBudget,
    check_base,
    check_contracts,
    check_infill,
    check_plus,
    reference_for,
    run_parallel,
)
from .plot import plot_latency
from .progress import Progress
from .sandbox import Isolation, Limits, SandboxResult, Status, run_python
from .stats import (
    LatencySummary,
    RunSummary,
    markdown_table,
    percentile,
    summary_table,
    write_json,
    write_markdown,
    write_results,
)

__all__ = [
    "CompletionDocument",
    "CursorStyle",
    "HumanEvalTask",
    "InfillTask",
    "Isolation",
    "LatencySummary",
    "Limits",
    "Progress",
    "Reference",
    "Result",
    "RunSummary",
    "SandboxResult",
    "Status",
    "TimeBudget",
    "check_base",
    "check_contracts",
    "check_infill",
    "check_plus",
    "data_dir",
    "load_humaneval_plus",
    "load_single_line_infilling",
    "markdown_table",
    "percentile",
    "plot_latency",
    "reference_for",
    "run_parallel",
    "run_python",
    "summary_table",
    "write_json",
    "write_markdown",
    "write_results",
]
