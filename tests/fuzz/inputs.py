"""What the fuzzer sends: documents, edits, URIs, positions, settings and client capabilities.

Owns the random input generators (all drawn from one `random.Random`, so a seed replays a
session). Texts mix code with every LSP line terminator, characters that `str.splitlines`
treats as line ends but LSP does not, characters outside the BMP (two UTF-16 code units) and
lone surrogates (sent as JSON `\\ud800` escapes).
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

TERMINATORS = ("\n", "\r\n", "\r")
NOT_TERMINATORS = ("\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
ASTRAL = ("😀", "🐍", "𝔘", "\U0010ffff", "👩\u200d💻")
LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")
OTHER = ("é", "中", "Ω", "\u00a0", "\ufeff", "\t", "\x00", "\u0301")
CODE = (
    "def ",
    "return ",
    "x",
    "self.value",
    "(",
    ")",
    ":",
    "    ",
    " = ",
    "1",
    "'",
    '"',
    "# ",
    "import os",
    "class C",
    "pass",
    "if x:",
    "for i in range(3):",
    "print(",
    "[",
    "]",
    ",",
    ".",
    "_",
    "a",
    "b",
    " ",
)
FUNCTIONS = (
    "def add(a, b):{nl}    return a + b{nl}",
    "class Box:{nl}    def get(self):{nl}        return self.value{nl}",
    "def scale(x, k=2):{nl}    '''Scale {s}.'''{nl}    y = x * k{nl}    return y{nl}",
    "async def fetch(n):{nl}    # {s}{nl}    return [i for i in range(n)]{nl}",
    "def broken(:{nl}    return ]{nl}",
)
LANGUAGES = ("python",) * 6 + ("javascript", "rust", "plaintext", "go", "")


def special(rng: random.Random, lone: bool = True) -> str:
    """One unusual character (a lone surrogate only when `lone`)."""
    pools = [TERMINATORS, NOT_TERMINATORS, NOT_TERMINATORS, ASTRAL, ASTRAL, OTHER]
    if lone:
        pools.append(LONE_SURROGATES)
    return rng.choice(rng.choice(pools))


def snippet(rng: random.Random, lone: bool, size: int) -> str:
    """Inserted text: mostly code, a newline now and then, unusual characters sometimes."""
    parts = []
    for _ in range(size):
        r = rng.random()
        if r < 0.65:
            parts.append(rng.choice(CODE))
        elif r < 0.8:
            parts.append(rng.choice(TERMINATORS))
        else:
            parts.append(special(rng, lone))
    return "".join(parts)


def document(rng: random.Random, lone: bool = True) -> str:
    """A small source file: functions and statements with mixed line ends and odd characters."""
    blocks = []
    for _ in range(rng.randint(0, 5)):
        nl = rng.choice(TERMINATORS) if rng.random() < 0.5 else "\n"
        if rng.random() < 0.6:
            blocks.append(rng.choice(FUNCTIONS).format(nl=nl, s=special(rng, lone)))
        else:
            blocks.append(f"s = '{special(rng, lone)}{special(rng, lone)}'{nl}")
        if rng.random() < 0.3:
            blocks.append(snippet(rng, lone, rng.randint(1, 12)))
    return "".join(blocks)


def features(text: str) -> set[str]:
    """The unusual-content categories present in a text."""
    out = set()
    if "\r\n" in text:
        out.add("content_crlf")
    if "\r" in text.replace("\r\n", ""):
        out.add("content_cr_only")
    if any(c in text for c in NOT_TERMINATORS):
        out.add("content_not_terminator")
    if any(ord(c) > 0xFFFF for c in text):
        out.add("content_astral")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        out.add("content_lone_surrogate")
    if "\x00" in text:
        out.add("content_nul")
    return out


def uri_for(rng: random.Random, root: str, n: int) -> tuple[str, str]:
    """A document URI as some client would send it, and its category."""
    base = "file://" + quote(root)
    kind = rng.choice(
        (
            "uri_plain",
            "uri_plain",
            "uri_space",
            "uri_non_ascii",
            "uri_windows_encoded",
            "uri_windows",
            "uri_untitled",
            "uri_reserved",
        )
    )
    if kind == "uri_plain":
        return f"{base}/pkg/mod{n}.py", kind
    if kind == "uri_space":
        return f"{base}/my%20project/mod{n}.py", kind
    if kind == "uri_non_ascii":
        return f"{base}/{quote('ünïcödé')}/{quote('módulo')}{n}.py", kind
    if kind == "uri_windows_encoded":  # what VS Code on Windows sends
        return f"file:///c%3A/Users/dev/proj/mod{n}.py", kind
    if kind == "uri_windows":
        return f"file:///C:/Users/dev/proj/mod{n}.py", kind
    if kind == "uri_untitled":
        return f"untitled:Untitled-{n}", kind
    return f"{base}/{quote('a#b [c]')}/mod{n}.py", kind


def client_capabilities(rng: random.Random) -> tuple[dict[str, Any], dict[str, bool]]:
    """A random but coherent client: which optional features it has, and the flags."""
    flags = {
        "configuration": rng.random() < 0.6,
        "progress": rng.random() < 0.6,
        "show_document": rng.random() < 0.5,
        "document_changes": rng.random() < 0.5,
        "create_files": rng.random() < 0.5,
    }
    encodings = ["utf-16", "utf-8", "utf-32"]
    rng.shuffle(encodings)
    offered = encodings[: rng.randint(0, 3)]
    caps: dict[str, Any] = {
        "general": {"positionEncodings": offered} if offered else {},
        "textDocument": {
            "synchronization": {"didSave": True, "dynamicRegistration": False},
            "inlineCompletion": {"dynamicRegistration": False},
            "completion": {"completionItem": {"snippetSupport": rng.random() < 0.5}},
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["", "quickfix", "refactor", "source"]}
                },
                "resolveSupport": {"properties": ["edit"]},
                "dataSupport": True,
            },
        },
        "workspace": {
            "applyEdit": True,
            "configuration": flags["configuration"],
            "didChangeConfiguration": {"dynamicRegistration": False},
            "workspaceFolders": rng.random() < 0.5,
            "workspaceEdit": {
                "documentChanges": flags["document_changes"],
                "resourceOperations": ["create"] if flags["create_files"] else [],
            },
        },
        "window": {
            "workDoneProgress": flags["progress"],
            "showDocument": {"support": flags["show_document"]},
            "showMessage": {"messageActionItem": {"additionalPropertiesSupport": False}},
        },
    }
    return caps, flags


def settings(rng: random.Random, model: str) -> tuple[Any, str, bool]:
    """A `settings.airgap` value, its category, and whether it names a missing model file.

    Values that would make the server allocate without bound on a shared machine (a context of
    10^9 tokens, 10^9 threads) are not drawn: integer bounds are checked elsewhere.
    """
    r = rng.random()
    if r < 0.1:
        return rng.choice(([], "airgap", 5, None, [1, 2], True)), "config_not_an_object", False
    completion: dict[str, Any] = {}
    invalid = False
    for key, good, bad in (
        ("enabled", (True, True, False), ("yes", 1, None)),
        ("maxTokens", (4, 8, 16, 32), (-1, "many", 2.5, None)),
        ("maxLines", (1, 3, 24), (-5, "x")),
        ("drafting", ("auto", "ngram", "none", "model"), ("turbo", 3)),
        ("debounceMs", (0, 0, 5), (-1, "soon")),
        ("prefixTokens", (64, 256, 1024), (-2, [])),
        ("suffixTokens", (0, 32, 256), ("z",)),
        ("useContext", (True, False), ("no",)),
        ("singleLineModel", ("target", "draft"), ("big",)),
        ("disabledLanguages", ([], ["rust"], ["python"]), ("python", [1])),
        ("steadyContext", (True, False), (0,)),
        ("shaping", (True, False), ("on",)),
    ):
        if rng.random() < 0.3:
            use_bad = rng.random() < 0.3
            invalid = invalid or use_bad
            completion[key] = rng.choice(bad if use_bad else good)
    raw: dict[str, Any] = {"completion": completion}
    missing = False
    if rng.random() < 0.3:
        models: dict[str, Any] = {"target": model, "draft": ""}
        if rng.random() < 0.25:
            models["target"] = "/nonexistent/airgap-fuzz.gguf"
            missing = True
        if rng.random() < 0.4:
            models["contextSize"] = rng.choice((512, 1024, 2048, "big", -1, 0))
            invalid = invalid or not isinstance(models["contextSize"], int)
        raw["models"] = models
    if rng.random() < 0.15:
        raw["log"] = {"level": rng.choice(("warning", "error", "loud"))}
        invalid = invalid or raw["log"]["level"] == "loud"
    if rng.random() < 0.1:
        raw[rng.choice(("bogus", "Completion", ""))] = {"x": 1}
        invalid = True
    if missing:
        return raw, "config_missing_model", True
    return raw, "config_invalid" if invalid else "config_valid", False
