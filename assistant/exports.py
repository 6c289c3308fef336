"""Papers back into a reference manager: BibTeX (bibtexparser), RIS (rispy), CSL-JSON.

Each writer puts every identifier where paperbot's own importer (and Zotero's) reads it,
so exporting a library and importing the file again changes nothing: the arXiv id in
`eprint` / an "arXiv: ID" note, the DOI in its field, the full date.
"""

from __future__ import annotations

import json

import rispy

from assistant.bibtex import bibliography
from assistant.models import Paper
from assistant.sources.identifiers import arxiv_of_doi

FORMATS = ("bibtex", "ris", "csljson")


def export(papers: list[Paper], fmt: str) -> str:
    writers = {"bibtex": bibliography, "ris": ris, "csljson": csl_json}
    return writers[fmt](papers)


def _notes(paper: Paper) -> list[str]:
    """Zotero's "Extra" lines: how a preprint's arXiv id and a bare author count travel."""
    notes = [f"arXiv: {paper.arxiv_id}"] if paper.arxiv_id else []
    if not paper.authors and paper.author_count:
        notes.append(f"{paper.author_count} authors")
    return notes


def _is_article(paper: Paper) -> bool:
    return bool(paper.doi and not arxiv_of_doi(paper.doi))


def ris(papers: list[Paper]) -> str:
    return rispy.dumps([_ris_record(paper) for paper in papers])


def _ris_record(paper: Paper) -> dict[str, object]:
    record: dict[str, object] = {
        "type_of_reference": "JOUR" if _is_article(paper) else "GEN",
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
    }
    optional: dict[str, object] = {
        "authors": list(paper.authors),
        "date": paper.date.strftime("%Y/%m/%d/") if paper.date else None,
        "year": str(paper.date.year) if paper.date else None,
        "doi": paper.doi,
        "urls": [paper.url] if paper.url else [],
        "keywords": list(paper.categories),
        "notes": _notes(paper),
    }
    return record | {key: value for key, value in optional.items() if value}


def csl_json(papers: list[Paper]) -> str:
    return json.dumps([_csl_item(paper) for paper in papers], indent=2, ensure_ascii=False) + "\n"


def _csl_name(name: str) -> dict[str, str]:
    given, _, family = name.rpartition(" ")
    return {"family": family, "given": given} if given else {"family": family}


def _csl_item(paper: Paper) -> dict[str, object]:
    item: dict[str, object] = {
        "id": paper.id,
        "type": "article-journal" if _is_article(paper) else "article",
        "title": paper.title,
        "abstract": paper.abstract,
    }
    optional: dict[str, object] = {
        "author": [_csl_name(name) for name in paper.authors],
        "issued": {"date-parts": [[paper.date.year, paper.date.month, paper.date.day]]} if paper.date else None,
        "DOI": paper.doi,
        "URL": paper.url,
        "keyword": ", ".join(paper.categories),
        "note": "\n".join(_notes(paper)),
    }
    return item | {key: value for key, value in optional.items() if value}
