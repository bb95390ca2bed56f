"""Build tasks.jsonl from the task sources; `--check` also runs each Python task's test.

python benchmarks/crossfile/make_tasks.py [--check]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tasks_other  # noqa: E402
import tasks_python  # noqa: E402

CURSOR = "█"


def build() -> list[dict]:
    out: list[dict] = []
    sources = [dict(t, language="python") for t in tasks_python.TASKS] + tasks_other.TASKS
    for spec in sources:
        path, marked = spec["target"]
        if marked.count(CURSOR) != 1:
            raise ValueError(f"{spec['id']}: target needs exactly one cursor mark")
        prefix, rest = marked.split(CURSOR)
        nl = rest.find("\n")
        expected, suffix = rest[:nl], rest[nl:]
        if not expected.strip():
            raise ValueError(f"{spec['id']}: empty expected line")
        files = dict(spec["files"])
        files[path] = prefix + expected + suffix
        out.append(
            {
                "id": spec["id"],
                "language": spec["language"],
                "files": dict(sorted(files.items())),
                "target_path": path,
                "cursor_prefix_file_text": prefix,
                "suffix": suffix,
                "expected": expected,
                "python_test": spec.get("test"),
            }
        )
    ids = [t["id"] for t in out]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate task ids")
    return out


def run_python_test(task: dict, completion: str) -> bool:
    """Write the project with `completion` at the cursor and run its test with pytest."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in task["files"].items():
            p = Path(tmp, rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        target = Path(tmp, task["target_path"])
        target.write_text(task["cursor_prefix_file_text"] + completion + task["suffix"])
        Path(tmp, "test_task.py").write_text(task["python_test"])
        env = dict(os.environ, PYTHONPATH=tmp, PYTHONDONTWRITEBYTECODE="1")
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_task.py"],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0


def main() -> int:
    tasks = build()
    with open(HERE / "tasks.jsonl", "w", encoding="utf-8") as f:
        for task in tasks:
            f.write(json.dumps(task, ensure_ascii=False) + "\n")
    print(f"wrote {len(tasks)} tasks")
    if "--check" in sys.argv:
        bad = 0
        for task in tasks:
            if task["python_test"] is None:
                continue
            good = run_python_test(task, task["expected"])
            # A wrong completion must fail the test, or the test proves nothing.
            wrong = run_python_test(task, "None" + " " * 0)
            if not good or wrong:
                bad += 1
                print(f"{task['id']}: reference passes={good} wrong passes={wrong}")
        print("python tests ok" if not bad else f"{bad} python tasks failed the check")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
