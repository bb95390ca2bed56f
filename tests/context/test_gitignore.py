"""The .gitignore matcher (context/gitignore.py, used by context/ignore.py): git's own verdicts,
in time linear in pattern × path.

The verdicts are checked against the installed git itself: a repository is built with the
patterns and files, and `git ls-files --others --ignored --exclude-standard` lists what git
ignores. Each pattern gets its own directory (`p<i>/.gitignore` over the same set of files),
so one git call judges them all.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from airgap_lsp.context.ignore import IgnoreRules
from tests.context.hostile import PATHOLOGICAL_GITIGNORE, long_names

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

# Files under each pattern's directory (directories are made by their files).
FILES = [
    "a.py",
    "b.log",
    "keep.log",
    "ab.py",
    "aab.py",
    "abc.py",
    "axb.py",
    "x.py",
    "y.py",
    "#hash.py",
    "trailing .py",
    "foo.txt",
    "foo.py",
    "fooXbar",
    "foo/bar.py",
    "foo/baz/qux.py",
    "build/out.py",
    "build/keep.py",
    "src/build/x.py",
    "src/a.py",
    "src/deep/a.py",
    "src/deep/er/b.py",
    "docs/gen/x.md",
    "docs/a/gen/y.md",
    "docs/a/b/gen/z.md",
    "docs/gen.md",
    "tmp/t.py",
    "src/tmp/t.py",
    "a/b/c.py",
    "a/x/y/b/c.py",
    "a/bc.py",
    "[abc].py",
    "star*.py",
    "q?.py",
    "dir.py/inner.py",
    "Upper.py",
]

PATTERNS = [
    "*.log",
    "*.log\n!keep.log",
    "build/",
    "build/\n!build/keep.py",  # no re-including inside an ignored directory
    "build/*\n!build/keep.py",  # ... but a file of a directory matched by `*` can be
    "/a.py",
    "a.py",
    "src/a.py",
    "docs/**/gen",
    "docs/**/gen/",
    "**/tmp",
    "tmp/",
    "a/**",
    "a/**/c.py",
    "a/**/b/c.py",
    "**",
    "*",
    "*/",
    "foo?bar",
    "foo*",
    "foo/",
    "foo/*",
    "foo/**/*.py",
    "[abc].py",
    "[!a].py",
    "[^a].py",
    "[a-c]*.py",
    "\\[abc\\].py",
    "\\#hash.py",
    "#hash.py",
    "trailing\\ .py",
    "trailing .py  ",
    "star\\*.py",
    "q\\?.py",
    "q?.py",
    "a*b.py",
    "a*a*b.py",
    "*b*.py",
    "?.py",
    "??.py",
    "[[:upper:]]*.py",
    "[[:digit:]].py",
    "src/**",
    "src/deep/",
    "*/a.py",
    "**/a.py",
    "/src/**/b.py",
    "dir.py/",
    "*.py\n!src/",
    "*.py\n!*/",
    "src\n!src/a.py",
    "!a.py",
    "",
    "# a comment",
    "/",
    "a/b/",
    "**/b/**",
]


def _build(root: Path, patterns: list[str]) -> list[str]:
    """The repository: p<i>/.gitignore holding patterns[i] above a copy of FILES."""
    rels: list[str] = []
    for i, pattern in enumerate(patterns):
        base = root / f"p{i}"
        for rel in FILES:
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x\n")
            rels.append(f"p{i}/{rel}")
        (base / ".gitignore").write_text(pattern + "\n")
    return rels


def _git_ignored(root: Path) -> set[str]:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root.parent)}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--others", "--ignored", "--exclude-standard"],
        check=True,
        capture_output=True,
        env=env,
    ).stdout
    return {os.fsdecode(p) for p in out.split(b"\0") if p}


def _compare(tmp_path: Path, patterns: list[str]) -> None:
    root = tmp_path / "repo"
    rels = _build(root, patterns)
    expected = _git_ignored(root)
    rules = IgnoreRules(str(root))
    wrong = []
    for rel in rels:
        ours = rules.ignored(str(root / rel))
        if ours != (rel in expected):
            i = int(rel.split("/", 1)[0][1:])
            wrong.append(
                f"{patterns[i]!r} on {rel.split('/', 1)[1]!r}: git {not ours}, ours {ours}"
            )
    assert not wrong, "\n".join(wrong)


@needs_git
def test_patterns_match_as_git_does(tmp_path: Path):
    _compare(tmp_path, PATTERNS)


@needs_git
def test_random_patterns_match_as_git_does(tmp_path: Path):
    rng = random.Random(13)
    atoms = ["a", "b", "c", "x", "*", "?", "**", "/", "[ab]", "[!a]", ".py", "\\*", "!"]
    patterns = []
    for _ in range(60):
        text = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 6)))
        if rng.random() < 0.3:
            text = "*.py\n" + text  # a negation, if any, has something to undo
        patterns.append(text)
    _compare(tmp_path, patterns)


def test_nested_gitignore_files_take_precedence(tmp_path: Path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / "sub" / ".gitignore").write_text("!keep.py\n")
    rules = IgnoreRules(str(tmp_path))
    assert rules.ignored(str(tmp_path / "x.py"))
    assert rules.ignored(str(tmp_path / "sub" / "x.py"))
    assert not rules.ignored(str(tmp_path / "sub" / "keep.py"))
    assert rules.ignored(str(tmp_path.parent / "elsewhere.py"))  # outside the root


def test_a_many_wildcard_pattern_is_checked_in_linear_time(tmp_path: Path):
    """pathspec compiled `*` to `[^/]*`: this pattern took 7 s per 40-character name."""
    (tmp_path / ".gitignore").write_text(PATHOLOGICAL_GITIGNORE)
    rules = IgnoreRules(str(tmp_path))
    names = [*long_names(), "a" * 39 + "b", "a" * 200 + "c"]
    verdicts: list[bool] = []
    started = time.monotonic()
    # On a thread, so that a backtracking matcher fails the test instead of hanging it.
    thread = threading.Thread(
        target=lambda: verdicts.extend(rules.ignored(str(tmp_path / n)) for n in names),
        daemon=True,
    )
    thread.start()
    thread.join(5.0)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"{len(verdicts)} of {len(names)} names checked in 5 s"
    assert elapsed < 0.5, f"{elapsed:.2f} s for {len(names)} names"
    assert verdicts == [False] * len(long_names()) + [True, False]
