"""BibTeX for a summary's references and for `paperbot export`, written with bibtexparser 2.

Outside `$...$` math, the characters LaTeX treats as special are escaped, and braces
become \textbraceleft{}/\textbraceright{}, so a title with an unbalanced brace cannot break
the entry. Math with balanced braces is kept as it is. Pairs that LaTeX would turn into
other characters (`--` into a dash, two backquotes into a quote) are split with `{}`.
Accented letters stay UTF-8, which biber and bibtexparser read and modern BibTeX passes through.
`latex_decoder` undoes all of this, so what is exported imports back unchanged.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import bibtexparser
from bibtexparser import Library
from bibtexparser.model import Entry, Field
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from assistant.models import Paper

# BibTeX counts every brace, escaped or not, so literal braces become commands.
SPECIAL = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "&": r"\&", "%": r"\%",
           "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip
MATH = re.compile(r"(\$[^$]+\$)")
# Character pairs LaTeX reads as one symbol ("--" is a dash, "?`" an inverted question mark).
LIGATURE = re.compile(r"(?<=[-`'?!])(?=[-`'])")


def escape(text: str) -> str:
    """LaTeX-safe text; `$...$` spans pass through untouched (when their braces balance)."""
    parts = []
    for part in MATH.split(text):
        if MATH.fullmatch(part) and _balanced(part):
            parts.append(part)
        else:
            escaped = "".join(SPECIAL.get(ch, ch) for ch in part).replace("$", r"\$")
            parts.append(LIGATURE.sub("{}", escaped))
    return "".join(parts)


@functools.cache
def latex_decoder() -> LatexNodes2Text:
    """LaTeX to text, knowing the brace commands `escape` writes; math is kept as written."""
    context = get_default_latex_context_db()
    context.add_context_category(
        "paperbot-braces",
        prepend=True,
        macros=[MacroTextSpec("textbraceleft", simplify_repl="{"), MacroTextSpec("textbraceright", simplify_repl="}")],
    )
    return LatexNodes2Text(latex_context=context, math_mode="verbatim", keep_braced_groups=False)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def cite_key(paper: Paper, taken: set[str]) -> str:
    """surnameYEARword, ASCII only, unique within one file."""
    surname = paper.authors[0].split()[-1] if paper.authors else ""
    year = str(paper.date.year) if paper.date else ""
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", paper.title)), "paper")
    base = re.sub(r"[^a-z0-9]", "", _ascii(f"{surname}{year}{word}").lower()) or "paper"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}" if n <= 27 else f"{base}{n}"
    taken.add(key)
    return key


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def entry(paper: Paper, key: str) -> Entry:
    """A @misc entry with every field paperbot knows, so an import reads the paper back."""
    fields: list[tuple[str, str]] = [("title", "{" + escape(paper.title) + "}")]  # inner braces keep capitals
    if paper.authors:
        fields.append(("author", " and ".join(escape(a) for a in paper.authors)))
    elif paper.author_count:
        fields.append(("note", f"{paper.author_count} authors"))
    if paper.date:
        fields += [("year", str(paper.date.year)), ("month", str(paper.date.month)), ("date", paper.date.isoformat())]
    if paper.arxiv_id:
        fields += [("eprint", paper.arxiv_id), ("archiveprefix", "arXiv")]
    if paper.doi:
        fields.append(("doi", _verbatim(paper.doi)))
    if paper.url:
        fields.append(("url", _verbatim(paper.url)))
    if paper.categories:
        fields.append(("keywords", escape(", ".join(paper.categories))))
    fields.append(("abstract", escape(paper.abstract)))
    return Entry("misc", key, [Field(name, value) for name, value in fields])


def _verbatim(value: str) -> str:
    """URLs and DOIs are written as they are (BibLaTeX reads them verbatim), except braces,
    which would end the field: they are percent-encoded, as a URL allows."""
    return value.replace("{", "%7B").replace("}", "%7D")


def bibliography(papers: list[Paper]) -> str:
    taken: set[str] = set()
    library = Library([entry(paper, cite_key(paper, taken)) for paper in papers])
    return bibtexparser.write_string(library)
