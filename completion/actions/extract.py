"""Strict extraction of a reply's code block, and the stop rule for a reply whose opening
fence was prefilled.
"""

from __future__ import annotations

import re

from airgap_lsp.completion.actions.data import ActionError

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w.+#-]*)[ \t]*\r?$", re.M)


def extract_code_block(reply: str) -> str:
    """The first fenced code block of a reply; anything else is an ActionError."""
    fences = list(_FENCE.finditer(reply))
    if not fences:
        raise ActionError("the model's reply has no code block; nothing was changed")
    if len(fences) < 2 or fences[1].group(1):
        raise ActionError("the model's reply was cut off inside its code block; nothing changed")
    code = reply[fences[0].end() : fences[1].start()]
    code = code[1:] if code.startswith("\n") else code
    if not code.strip():
        raise ActionError("the model returned an empty code block; nothing was changed")
    return code


def fence_stop(text: str) -> int | None:
    """Stop rule for a reply whose opening fence was prefilled: where the closing fence is."""
    if text.startswith("```"):
        return 0
    i = text.find("\n```")
    return i + 1 if i >= 0 else None
