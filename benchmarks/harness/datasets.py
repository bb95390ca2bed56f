"""Benchmark data: locating the shared data files and loading them into typed, frozen tasks.

Owns the shapes of HumanEval+ (function-body completion) and HumanEval single-line
infilling tasks, and the editor view of each task: the document text and the cursor at
which a completion is requested. Nothing here executes task code.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

HUMANEVAL_PLUS_FILE = "HumanEvalPlus-v0.1.10.jsonl.gz"
SINGLE_LINE_INFILLING_FILE = "HumanEval-SingleLineInfilling.jsonl.gz"
DATA_DIR_ENV = "AIRGAP_DATA_DIR"

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The shared data directory: `$AIRGAP_DATA_DIR`, else `<repo>/../shared/data`."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return REPO_ROOT.parent / "shared" / "data"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class CursorStyle(Enum):
    """Where the cursor sits on the (empty) first body line of a function."""

    INDENTED = "indented"  # after the body's indentation, as an editor with auto-indent leaves it
    COLUMN0 = "column0"  # at the start of the line


@dataclass(frozen=True)
class CompletionDocument:
    """A document with a cursor between `prefix` and `suffix`.

    `line` and `character` are the LSP position of the cursor: 0-based, with
    `character` counted in UTF-16 code units (the LSP default encoding).
    """

    prefix: str
    suffix: str

    @property
    def text(self) -> str:
        return self.prefix + self.suffix

    @property
    def offset(self) -> int:
        return len(self.prefix)

    @property
    def line(self) -> int:
        return self.prefix.count("\n")

    @property
    def character(self) -> int:
        last_line = self.prefix.rsplit("\n", 1)[-1]
        return len(last_line.encode("utf-16-le")) // 2

    def apply(self, inserted: str) -> str:
        """The document text after `inserted` is accepted at the cursor."""
        return self.prefix + inserted + self.suffix


def _body_indent(prompt: str) -> str:
    # The docstring's closing line carries the body's indentation.
    for line in reversed(prompt.splitlines()):
        if line.strip():
            return line[: len(line) - len(line.lstrip())] or "    "
    return "    "


@dataclass(frozen=True)
class HumanEvalTask:
    """One HumanEval+ task. Inputs are kept as loaded from JSON (lists, never tuples)."""

    task_id: str
    prompt: str
    canonical_solution: str
    entry_point: str
    test: str
    contract: str
    atol: float
    base_input: list[list[Any]] = field(repr=False, compare=False)
    plus_input: list[list[Any]] = field(repr=False, compare=False)
    # Keys the reference-output cache: outputs belong to one exact data file.
    dataset_sha256: str = field(default="", repr=False)

    @property
    def canonical_source(self) -> str:
        """The reference program: prompt plus canonical body (what EvalPlus grades against)."""
        return self.prompt + self.canonical_solution

    @property
    def contract_source(self) -> str:
        """The reference program with input-validating asserts, used only to vet inputs."""
        return self.prompt + self.contract + self.canonical_solution

    @property
    def all_inputs(self) -> list[list[Any]]:
        return self.base_input + self.plus_input

    @property
    def body_indent(self) -> str:
        return _body_indent(self.prompt)

    def completion_document(self, cursor: CursorStyle = CursorStyle.INDENTED) -> CompletionDocument:
        """The prompt as a document, the cursor at the start of the (empty) body line."""
        prefix = self.prompt if self.prompt.endswith("\n") else self.prompt + "\n"
        if cursor is CursorStyle.INDENTED:
            prefix += self.body_indent
        return CompletionDocument(prefix=prefix, suffix="")


@dataclass(frozen=True)
class InfillTask:
    """One single-line infilling task: `prefix + canonical_solution + suffix` is the program."""

    task_id: str  # e.g. "SingleLineInfilling/HumanEval/0/L3"
    entry_point: str
    prefix: str
    suffix: str
    canonical_solution: str  # the missing line, newline included
    test: str

    @property
    def humaneval_id(self) -> str:
        """The HumanEval(+) task this line was cut from, e.g. "HumanEval/0"."""
        return self.task_id.split("/", 1)[1].rsplit("/", 1)[0]

    @property
    def line_label(self) -> str:
        return self.task_id.rsplit("/", 1)[1]

    def document(self) -> CompletionDocument:
        return CompletionDocument(prefix=self.prefix, suffix=self.suffix)

    def program(self, middle: str, *, ensure_newline: bool = True) -> str:
        """`prefix + middle + suffix`; a missing final newline is added unless told not to.

        Models often return the line without its newline, which would otherwise glue
        it to the first suffix line.
        """
        if ensure_newline and not middle.endswith("\n") and self.suffix:
            middle += "\n"
        return self.prefix + middle + self.suffix


def _read_jsonl_gz(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_humaneval_plus(limit: int | None = None, path: Path | None = None) -> list[HumanEvalTask]:
    """HumanEval+ tasks in file order; `limit` keeps the first N."""
    source = path or data_dir() / HUMANEVAL_PLUS_FILE
    sha = file_sha256(source)
    tasks: list[HumanEvalTask] = []
    for row in _read_jsonl_gz(source):
        if limit is not None and len(tasks) >= limit:
            break
        tasks.append(
            HumanEvalTask(
                task_id=row["task_id"],
                prompt=row["prompt"],
                canonical_solution=row["canonical_solution"],
                entry_point=row["entry_point"],
                test=row["test"],
                contract=row["contract"],
                atol=float(row["atol"]),
                base_input=row["base_input"],
                plus_input=row["plus_input"],
                dataset_sha256=sha,
            )
        )
    return tasks


def load_single_line_infilling(
    limit: int | None = None, path: Path | None = None
) -> list[InfillTask]:
    """Single-line infilling tasks in file order; `limit` keeps the first N."""
    source = path or data_dir() / SINGLE_LINE_INFILLING_FILE
    tasks: list[InfillTask] = []
    for row in _read_jsonl_gz(source):
        if limit is not None and len(tasks) >= limit:
            break
        tasks.append(
            InfillTask(
                task_id=row["task_id"],
                entry_point=row["entry_point"],
                prefix=row["prompt"],
                suffix=row["suffix"],
                canonical_solution=row["canonical_solution"],
                test=row["test"],
            )
        )
    return tasks
