"""What a mail may carry into a header, a room or a file name: one line of text with no control,
line-separator or bidirectional-override characters (a CR in a subject breaks the mail's header
on the way out; U+202E shows `rapport<U+202E>fdp.exe` as `rapportexe.pdf`). Pure."""

from __future__ import annotations

import re
import unicodedata

# Characters that move text around rather than show it: bidi embeddings, overrides, isolates
# and marks (Unicode's Bidi_Control property); and U+FFFE, U+FFFF, which XML refuses.
_DROPPED = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                     "\u2069\ufffe\uffff")
_SPACES = re.compile(r"\s+")
MAX_FILENAME = 120


def _kept(char: str) -> bool:
    # Cc: C0 and C1 controls (CR, LF, VT, NEL U+0085…); Zl, Zp: U+2028, U+2029; Cs: lone
    # surrogates, which no UTF-8 encoder takes.
    return char not in _DROPPED and unicodedata.category(char) not in ("Cc", "Zl", "Zp", "Cs")


def one_line(text: str) -> str:
    """`text` as a single line: every control or separator becomes a space, runs of spaces one."""
    return _SPACES.sub(" ", "".join(c if _kept(c) else " " for c in text)).strip()


def header_text(text: str) -> str:
    """`one_line(text)` made safe to write into a header: without `=?`, which a reader (and
    Python's email package when it folds a long header) takes for an encoded word and decodes,
    CR LF included: `=?utf-8?q?=0D=0ABcc:_x?=` typed in a subject would become a header."""
    return one_line(text).replace("=?", "= ?")


def file_name(name: str, fallback: str) -> str:
    """A file name safe to show and to write (an attachment's, an XDM document's): one line, no
    directory, not hidden, bounded; `fallback` when nothing is left."""
    cleaned = re.sub(r"[/\\]", "_", one_line(name)).strip(". ")[:MAX_FILENAME].strip(". ")
    return cleaned or fallback
