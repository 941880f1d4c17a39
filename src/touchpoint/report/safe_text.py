"""Text from outside, made safe to print in a terminal (DESIGN §16).

UTM values, page titles, campaign and person names, vendor fields and the
payload text in reject reasons come from the internet. Printed as they are, an
ESC sequence in a `utm_source` could clear the screen, retitle the window or
plant a hyperlink (OSC 8), a bidi override could make a line read backwards,
and Rich would read `[link=...]` or `[bold]` in it as markup. Everything the
command line prints of such text goes through this module:

- `visible` writes every control character (C0, DEL, C1) and every bidi
  override or isolate as a visible escape (`\\x1b`, `\\u202e`), so an escape
  sequence shows as text and does nothing;
- `cell` makes a Rich `Text` of it (a table cell, never read as markup);
- `markup` escapes it for a Rich markup string;
- `json_text` does the same for JSON the command prints: the characters JSON
  may carry raw (C1, bidi) become `\\u` escapes, which read back the same.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

# C0 controls, DEL, C1 controls; the bidi embeddings, overrides and isolates; the
# Arabic letter mark, line and paragraph separators (they break or reorder lines too).
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_BEYOND_C0}]")
_UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with control and bidi characters written as visible escapes.

    >>> visible("google\\x1b[2J\\u202e")
    'google\\\\x1b[2J\\\\u202e'
    >>> visible("two\\nlines", keep_newlines=True), visible("two\\nlines")
    ('two\\nlines', 'two\\\\x0alines')
    """
    text = "" if value is None else str(value)
    pattern = UNSAFE_BUT_NEWLINE if keep_newlines else UNSAFE
    return pattern.sub(_escaped, text)


def cell(value: object, style: str = "") -> Text:
    """A Rich table cell of outside text: visible escapes, and never read as markup."""
    return Text(visible(value), style=style)


def markup(value: object, keep_newlines: bool = False) -> str:
    """Outside text for a Rich markup string: visible escapes, brackets escaped.

    >>> markup("[link=http://evil.example]x[/link]")
    '\\\\[link=http://evil.example]x\\\\[/link]'
    """
    return escape(visible(value, keep_newlines))


def json_text(document: str) -> str:
    """JSON text with the characters JSON may carry raw (C1 controls, bidi) as `\\u` escapes.

    JSON already escapes the C0 controls; a C1 or bidi character can only stand in a
    string, where its escape means the same character.

    >>> json_text('{"source": "a\\u202eb"}')
    '{"source": "a\\\\u202eb"}'
    """
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
