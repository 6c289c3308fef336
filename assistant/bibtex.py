"""BibTeX entries for a summary's references, escaped so LaTeX tools accept them.

Outside `$...$` math, the characters LaTeX treats as special are escaped, and braces
become \textbraceleft{}/\textbraceright{}, so a title with an unbalanced brace cannot break
the entry. Math with balanced braces is kept as it is.
Accented letters stay UTF-8, which biber and bibtexparser read and modern BibTeX passes through.
"""

from __future__ import annotations

import re
import unicodedata

from assistant.models import Paper

# BibTeX counts every brace, escaped or not, so literal braces become commands.
SPECIAL = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "&": r"\&", "%": r"\%",
           "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip
MATH = re.compile(r"(\$[^$]+\$)")


def escape(text: str) -> str:
    """LaTeX-safe text; `$...$` spans pass through untouched (when their braces balance)."""
    parts = []
    for part in MATH.split(text):
        if MATH.fullmatch(part) and _balanced(part):
            parts.append(part)
        else:
            parts.append("".join(SPECIAL.get(ch, ch) for ch in part).replace("$", r"\$"))
    return "".join(parts)


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


def entry(paper: Paper, key: str) -> str:
    fields: list[tuple[str, str]] = [("title", "{" + escape(paper.title) + "}")]  # inner braces keep capitals
    if paper.authors:
        fields.append(("author", " and ".join(escape(a) for a in paper.authors)))
    elif paper.author_count:
        fields.append(("note", f"{paper.author_count} authors"))
    if paper.date:
        fields.append(("year", str(paper.date.year)))
        fields.append(("month", str(paper.date.month)))
    arxiv = paper.id if re.fullmatch(r"\d{4}\.\d{4,5}", paper.id) else None
    if arxiv:
        fields += [("eprint", arxiv), ("archiveprefix", "arXiv")]
    if paper.url:
        fields.append(("url", paper.url))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


def bibliography(papers: list[Paper]) -> str:
    taken: set[str] = set()
    return "\n".join(entry(paper, cite_key(paper, taken)) for paper in papers)
