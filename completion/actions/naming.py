"""Test-file naming: where the tests of a file go (inside its workspace folder, never through
a symlink that leads out of it, never over an existing file), its Python module name and the
test framework to ask for.

Everything here touches the file system (stat, realpath, a few small reads), so callers run it
off the event loop; reads open regular files only, without blocking on a FIFO or device.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from airgap_lsp.completion.actions.data import ActionError
from airgap_lsp.context import Language
from airgap_lsp.context.files import OPEN_FLAGS

_MAX_PACKAGE_DEPTH = 64


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
        if _directory_inside(candidate, root or directory):
            return os.path.join(candidate, name)
    return os.path.join(directory, name)


def _test_dirs(directory: str, root: str | None) -> list[str]:
    if os.path.basename(directory) == "tests":
        return []
    out = [os.path.join(directory, "tests")]
    if root and os.path.abspath(root) != os.path.abspath(directory):
        out.append(os.path.join(root, "tests"))
    return out


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _directory_inside(path: str, root: str) -> bool:
    """`path` is a directory whose real location (symlinks followed) is inside `root`'s."""
    return os.path.isdir(path) and _is_under(os.path.realpath(path), os.path.realpath(root))


def tests_location(path: str, language: Language | None, roots: Sequence[str]) -> tuple[str, str]:
    """Where the tests of `path` go, and the root they go under: `path_for_tests` within the
    innermost workspace folder holding `path` (the file's own directory without any folder).

    ActionError when no folder holds the file, or the place would be outside the folder once
    symlinks are followed, or is itself a symlink."""
    path = os.path.abspath(path)
    holding = [os.path.abspath(r) for r in roots if r and _is_under(path, os.path.abspath(r))]
    if roots and not holding:
        raise ActionError(
            f"{os.path.basename(path)} is outside the workspace folders; tests are only "
            "written inside a workspace folder"
        )
    root = max(holding, key=len) if holding else os.path.dirname(path)
    target = path_for_tests(path, language, root)
    if not _is_under(os.path.realpath(os.path.dirname(target)), os.path.realpath(root)):
        raise ActionError(
            f"the folder for {os.path.basename(target)} leads outside the workspace folder; "
            "nothing was written"
        )
    if os.path.islink(target):
        raise ActionError(f"{os.path.basename(target)} is a symbolic link; nothing was written")
    return target, root


def unused_path(path: str) -> str:
    """`path`, or when something already exists there the first free `<name>_<n>` variant
    (keeping suffixes test runners look for: `_test.go`, `.test.ts`)."""
    if not os.path.lexists(path):
        return path
    directory, name = os.path.split(path)
    if name.endswith("_test.go"):
        head, tail = name[: -len("_test.go")], "_test.go"
    elif ".test." in name:
        i = name.index(".test.")
        head, tail = name[:i], name[i:]
    else:
        head, tail = os.path.splitext(name)
    for n in range(2, 100):
        candidate = os.path.join(directory, f"{head}_{n}{tail}")
        if not os.path.lexists(candidate):
            return candidate
    raise ActionError(f"no free name for a new tests file beside {name}")


def python_module(path: str, root: str | None = None) -> str:
    """Dotted module name of a Python file: its package path (directories with __init__.py,
    up to `root` at most) and its stem."""
    directory, base = os.path.split(os.path.abspath(path))
    stop = os.path.abspath(root) if root else None
    parts = [os.path.splitext(base)[0]]
    for _ in range(_MAX_PACKAGE_DEPTH):
        if not os.path.isfile(os.path.join(directory, "__init__.py")):
            break
        parent, package = os.path.split(directory)
        if not package or parent == directory:  # the file system root is no package
            break
        parts.insert(0, package)
        if directory == stop:
            break
        directory = parent
    return ".".join(parts)


def _head(path: str, size: int) -> str:
    """The first `size` bytes of a regular file as text; "" for anything else (a FIFO, a
    device, a symlink) or on error. Never blocks."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except (OSError, ValueError):
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, size).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def python_framework(root: str | None) -> str:
    """pytest unless the workspace's existing tests use unittest only."""
    if not root:
        return "pytest"
    for name in ("conftest.py", "pytest.ini"):
        if os.path.isfile(os.path.join(root, name)):
            return "pytest"
    tests = os.path.join(root, "tests")
    if _directory_inside(tests, root):
        try:
            entries = sorted(os.listdir(tests))[:20]
        except OSError:
            entries = []
        texts = [
            text
            for entry in entries
            if entry.startswith("test") and entry.endswith(".py")
            for text in [_head(os.path.join(tests, entry), 4000)]
            if text
        ]
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
