"""Test-file naming: where the tests of a file go, its Python module name and the test
framework to ask for.
"""

from __future__ import annotations

import os

from context import Language


def path_for_tests(path: str, language: Language | None, root: str | None = None) -> str:
    """Where tests of `path` go: `test_<module>.py` (or the language's naming) beside it, or
    in a `tests/` directory beside it or at the workspace root when there is one."""
    directory, base = os.path.split(path)
    stem, ext = os.path.splitext(base)
    lang = language.name if language is not None else ""
    if lang == "go":
        return os.path.join(directory, f"{stem}_test.go")  # Go tests live in the package
    names = {
        "javascript": f"{stem}.test{ext}",
        "typescript": f"{stem}.test{ext}",
        "tsx": f"{stem}.test{ext}",
        "java": f"{stem}Test{ext}",
        "rust": f"{stem}_test{ext}",
    }
    name = names.get(lang, f"test_{stem}{ext or '.py'}")
    for candidate in _test_dirs(directory, root):
        if os.path.isdir(candidate):
            return os.path.join(candidate, name)
    return os.path.join(directory, name)


def _test_dirs(directory: str, root: str | None) -> list[str]:
    if os.path.basename(directory) == "tests":
        return []
    out = [os.path.join(directory, "tests")]
    if root and os.path.abspath(root) != os.path.abspath(directory):
        out.append(os.path.join(root, "tests"))
    return out


def python_module(path: str) -> str:
    """Dotted module name of a Python file: its package path (directories with __init__.py)
    and its stem."""
    directory, base = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(base)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


def python_framework(root: str | None) -> str:
    """pytest unless the workspace's existing tests use unittest only."""
    if not root:
        return "pytest"
    for name in ("conftest.py", "pytest.ini"):
        if os.path.isfile(os.path.join(root, name)):
            return "pytest"
    tests = os.path.join(root, "tests")
    if os.path.isdir(tests):
        texts = []
        for entry in sorted(os.listdir(tests))[:20]:
            if entry.startswith("test") and entry.endswith(".py"):
                try:
                    with open(os.path.join(tests, entry), encoding="utf-8") as f:
                        texts.append(f.read(4000))
                except OSError:
                    continue
        if texts and all("unittest" in t and "pytest" not in t for t in texts):
            return "unittest"
    return "pytest"


def framework_for(language: Language | None, root: str | None) -> str:
    name = language.name if language is not None else ""
    return {
        "python": python_framework(root),
        "javascript": "Jest",
        "typescript": "Jest",
        "tsx": "Jest",
        "go": "Go `testing`",
        "rust": "Rust `#[test]`",
        "java": "JUnit 5",
    }.get(name, "unit")
