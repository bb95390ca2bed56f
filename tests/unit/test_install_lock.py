"""The hash-locked install (issue 15).

Owns the checks that every requirement scripts/bootstrap.sh installs is pinned by sha256 and
installed with --require-hashes (or, the project itself, editable with --no-deps), that no
install builds in an isolated environment pip would fill unchecked, that the pins agree with
pyproject.toml, and that a cached llama-cpp-python wheel which is not the recorded file is
refused (scripts/wheel_cache.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("requirements.lock", "requirements-build.lock", "requirements-llama.lock")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
WHEEL = "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"


def _script(name: str) -> ModuleType:
    qualified = f"_airgap_scripts_{name}"  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location(qualified, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


wheel_cache = _script("wheel_cache")
lock = _script("lock")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _logical_lines(text: str) -> list[str]:
    """Continuation lines joined, comments dropped (as pip and bash read them)."""
    lines, current = [], ""
    for raw in text.splitlines():
        if not current and raw.lstrip().startswith("#"):
            continue
        current += raw[:-1] + " " if raw.endswith("\\") else raw
        if not raw.endswith("\\"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    return lines


def _requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes); every line must be `name==version --hash=sha256:... ...`."""
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in _logical_lines(path.read_text()):
        pin, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!]+)", pin)
        assert match, f"{path.name}: {pin!r} is not pinned with =="
        bad = [o for o in options if not HASH.fullmatch(o)]
        assert not bad, f"{path.name}: {pin} has options other than sha256 hashes: {bad}"
        assert options, f"{path.name}: {pin} has no sha256 hash"
        entries[canonical(match[1])] = (match[2], sorted(options))
    return entries


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_requirement_has_a_hash(name):
    entries = _requirements(ROOT / name)
    assert entries, f"{name} locks nothing"


def test_a_requirement_without_a_hash_is_caught(tmp_path):
    unhashed = tmp_path / "requirements.lock"
    unhashed.write_text("pygls==2.1.1 \\\n    --hash=sha256:" + "a" * 64 + "\nattrs==26.1.0\n")
    with pytest.raises(AssertionError, match=r"attrs==26\.1\.0 has no sha256 hash"):
        _requirements(unhashed)


def test_the_lock_files_are_as_scripts_lock_writes_them(tmp_path):
    """Not edited by hand: read and written again by scripts/lock.py, each file is unchanged
    (so a regenerated lock differs only where the resolution did)."""
    for name in LOCKS:
        again = tmp_path / name
        lock.write_lock(again, lock.read_lock(ROOT / name))
        assert again.read_text() == (ROOT / name).read_text(), name


def test_the_lock_refuses_a_hash_that_changed_under_the_same_file_name():
    old = {"x": lock.Locked("x", "1.0", {"x-1.0-py3-none-any.whl": "a" * 64})}
    other_platform = {"x": lock.Locked("x", "1.0", {"x-1.0-cp311-macosx.whl": "b" * 64})}
    merged = lock.merge(other_platform, old)
    assert merged["x"].files == {
        "x-1.0-py3-none-any.whl": "a" * 64,
        "x-1.0-cp311-macosx.whl": "b" * 64,
    }
    changed = {"x": lock.Locked("x", "1.0", {"x-1.0-py3-none-any.whl": "c" * 64})}
    with pytest.raises(SystemExit, match="changed"):
        lock.merge(changed, old)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep and re.fullmatch(r"[A-Za-z0-9.+!]+", version), f"{requirement!r} is not =="
        pins[canonical(name)] = version
    return pins


def test_the_pins_in_pyproject_and_the_locks_agree():
    project = _pyproject()
    main = _requirements(ROOT / "requirements.lock")
    build = _requirements(ROOT / "requirements-build.lock")
    llama = _requirements(ROOT / "requirements-llama.lock")
    wanted = _pins(project["project"]["dependencies"])
    wanted |= _pins(project["project"]["optional-dependencies"]["dev"])
    assert wanted.pop("llama-cpp-python") == llama["llama-cpp-python"][0] and len(llama) == 1
    for name, version in wanted.items():
        assert name in main, f"{name} is in pyproject.toml but not in requirements.lock"
        assert main[name][0] == version, f"{name}: pyproject {version}, lock {main[name][0]}"
    for name, version in _pins(project["build-system"]["requires"]).items():
        assert build.get(name, ("missing",))[0] == version, f"[build-system] {name}"
    for name in ("pip", "setuptools", "wheel", "scikit-build-core"):
        assert name in build, f"{name} is not in requirements-build.lock"
    for name in main.keys() & build.keys():  # one venv: one version of each package
        assert main[name] == build[name], name
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert f"LLAMA_VERSION={llama['llama-cpp-python'][0]}\n" in bootstrap


def _pip_calls(script: str) -> list[tuple[str, list[str]]]:
    """(subcommand, its arguments) for every pip invocation in a bash script."""
    calls = []
    for line in _logical_lines(script):
        words, i = line.split(), 0
        while i < len(words):
            word = words[i]
            i += 1
            is_pip = word.strip('"') in ("pip", "pip3", "pip_") or word.endswith(("/pip", "/pip3"))
            if not is_pip:
                continue
            rest = []  # up to the end of this command: "pip" after it is an argument
            while i < len(words) and words[i] not in (";", "&&", "||", "|"):
                rest.append(words[i])
                i += 1
            command = next((w for w in rest if not w.startswith("-")), "")
            if command in ("install", "wheel", "download"):
                calls.append((command, rest[rest.index(command) + 1 :]))
    return calls


def _unchecked(script: str) -> list[str]:
    problems = []
    calls = _pip_calls(script)
    for command, args in calls:
        text = " ".join(args)
        own_tree = command == "install" and "-e ." in text and "--no-deps" in text
        if command in ("install", "download") and "--require-hashes" not in args and not own_tree:
            problems.append(f"pip {command} without --require-hashes: {text}")
        if "--no-build-isolation" not in args and "--only-binary :all:" not in text:
            problems.append(f"pip {command} may build in an unchecked isolated env: {text}")
    return problems


def test_bootstrap_installs_nothing_without_require_hashes():
    script = (ROOT / "scripts" / "bootstrap.sh").read_text()
    assert _unchecked(script) == []
    seen = [command for command, _ in _pip_calls(script)]
    # The lock files, the llama wheel, the project; the sdist download; the wheel build.
    assert seen.count("install") == 4 and "download" in seen and "wheel" in seen, seen
    installs = [" ".join(args) for command, args in _pip_calls(script) if command == "install"]
    assert "-r requirements-build.lock" in installs[0], "pip itself is installed first"


def test_the_bootstrap_check_catches_unhashed_installs():
    old = (
        '"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip wheel\n'
        'CMAKE_ARGS="$ARGS" "$VPY" -m pip wheel --no-deps -w "$W" llama-cpp-python==0.3.36\n'
        '"$VPY" -m pip install --quiet \\\n  -c requirements.lock -e ".[dev]" >&2\n'
    )
    problems = _unchecked(old)
    assert len(problems) == 5, problems


# -- the cached wheel ------------------------------------------------------------------------


def _cache(tmp_path: Path, content: bytes = b"a wheel") -> Path:
    folder = tmp_path / "wheels" / "06b5698940f0"
    folder.mkdir(parents=True)
    (folder / WHEEL).write_bytes(content)
    return folder


def test_a_recorded_wheel_is_installed_by_its_hash(tmp_path):
    folder = _cache(tmp_path)
    built = wheel_cache.record(folder)
    verified = wheel_cache.verify(folder)
    assert verified == built
    assert verified.sha256 == wheel_cache.sha256_of(folder / WHEEL)
    line = verified.requirement()
    assert line.startswith("llama-cpp-python @ file://") and WHEEL in line
    assert line.rstrip().endswith(f"--hash=sha256:{verified.sha256}")


def test_a_tampered_cached_wheel_is_refused(tmp_path, capsys):
    folder = _cache(tmp_path)
    wheel_cache.record(folder)
    (folder / WHEEL).write_bytes(b"a wheel with something added")
    with pytest.raises(wheel_cache.Refused, match="was recorded when it was built"):
        wheel_cache.verify(folder)
    requirement = tmp_path / "req.txt"
    assert wheel_cache.main(["verify", str(folder), "--requirement", str(requirement)]) == 1
    assert "refused:" in capsys.readouterr().err
    assert not requirement.exists(), "nothing to install from a refused wheel"


def test_a_wheel_other_than_the_recorded_one_is_refused(tmp_path):
    folder = _cache(tmp_path)
    wheel_cache.record(folder)
    recorded = (folder / "SHA256SUMS").read_text()
    (folder / WHEEL).unlink()
    (folder / WHEEL.replace("0.3.36", "0.3.37")).write_bytes(b"a wheel")
    with pytest.raises(wheel_cache.Refused, match="missing"):
        wheel_cache.verify(folder)
    (folder / WHEEL).symlink_to(folder / WHEEL.replace("0.3.36", "0.3.37"))
    with pytest.raises(wheel_cache.Refused, match="not a regular file"):
        wheel_cache.verify(folder)
    for bad in ("", recorded + recorded, recorded.replace(WHEEL, "../" + WHEEL), "x  " + WHEEL):
        (folder / "SHA256SUMS").write_text(bad)
        with pytest.raises(wheel_cache.Refused):
            wheel_cache.verify(folder)


def test_no_cache_and_an_unrecorded_wheel_are_refused(tmp_path):
    with pytest.raises(wheel_cache.Refused, match="no cached wheel"):
        wheel_cache.verify(tmp_path / "absent")
    folder = _cache(tmp_path)
    with pytest.raises(wheel_cache.Refused, match="no SHA256SUMS"):
        wheel_cache.verify(folder)
    with pytest.raises(wheel_cache.Refused, match="not installed from it"):
        wheel_cache.verify(folder, venv=tmp_path / "venv")


def _installed_from(venv: Path, wheel: Path, digest: str) -> None:
    info = venv / "lib/python3.11/site-packages/llama_cpp_python-0.3.36.dist-info"
    info.mkdir(parents=True)
    record = {"url": wheel.as_uri(), "archive_info": {"hashes": {"sha256": digest}}}
    (info / "direct_url.json").write_text(json.dumps(record))


def test_a_wheel_cached_before_hashes_is_adopted_only_if_pip_installed_that_file(tmp_path):
    """The migration: pip recorded the sha256 of the file it installed into the venv."""
    folder = _cache(tmp_path)
    digest = wheel_cache.sha256_of(folder / WHEEL)
    _installed_from(tmp_path / "venv", folder / WHEEL, digest)
    (folder / WHEEL).write_bytes(b"a different wheel")
    with pytest.raises(wheel_cache.Refused, match="the file changed since"):
        wheel_cache.verify(folder, venv=tmp_path / "venv")
    assert not (folder / "SHA256SUMS").exists()
    (folder / WHEEL).write_bytes(b"a wheel")
    assert wheel_cache.verify(folder, venv=tmp_path / "venv").sha256 == digest
    assert (folder / "SHA256SUMS").read_text() == f"{digest}  {WHEEL}\n"
    assert wheel_cache.verify(folder).sha256 == digest  # recorded from now on
