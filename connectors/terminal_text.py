"""Text for a terminal: nothing from outside (model replies, abstracts, titles, questions)
may move the cursor, recolour, retitle the window or hide text.

`printable` removes escape sequences (CSI, OSC, other ESC forms) and every other control
character except newline and tab, C1 controls included, and the bidirectional overrides
that can reorder what is shown. `escape` is rich's markup escape on top of that: the CLI's
printers use it for every piece of library or model text.
"""

from __future__ import annotations

import re

from rich.markup import escape as rich_escape

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"  # other two-character escapes, or a lone ESC
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def escape(text: str) -> str:
    return rich_escape(printable(text))
