"""How answers, papers, results and reports look in a terminal and in --json."""

from __future__ import annotations

from datetime import date

from assistant.ingest import IngestReport
from assistant.models import Answer, Paper, ScoredPaper
from connectors.cli.shared import err, out
from connectors.terminal_text import escape, printable  # control characters never reach the terminal


def paper_line(paper: Paper) -> str:
    when = paper.date.isoformat() if paper.date else "undated"
    link = f" {paper.url}" if paper.url else ""
    return f"{escape(paper.title)} [dim]({when}, {escape(paper.id)}){escape(link)}[/dim]"


def answer_json(answer: Answer) -> dict[str, object]:
    return {
        "question": answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "engine": answer.engine,
        "citations": [
            {
                "n": c.n,
                "paper_id": c.paper.id,
                "title": c.paper.title,
                "url": c.paper.url,
                "date": iso_date(c.paper.date),
            }
            for c in answer.citations
        ],
        "retrieved": [
            {"paper_id": s.paper.id, "score": round(s.score, 4), "similarity": round(s.similarity, 4)}
            for s in answer.sources
        ],
        "unsupported": list(answer.unsupported),
        "unsupported_count": len(answer.unsupported),
        "notice": answer.notice,
        "standalone_question": answer.standalone,
    }


def search_json(query: str, results: list[ScoredPaper]) -> dict[str, object]:
    rows = [
        {
            "rank": rank,
            "paper_id": r.paper.id,
            "title": r.paper.title,
            "score": round(r.score, 4),
            "similarity": round(r.similarity, 4),
            "date": iso_date(r.paper.date),
            "url": r.paper.url,
        }
        for rank, r in enumerate(results, start=1)
    ]
    return {"query": query, "results": rows}


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


class TokenPrinter:
    """Shows a generated answer as it streams; remembers what it showed."""

    def __init__(self) -> None:
        self.text = ""

    @property
    def shown(self) -> bool:
        return bool(self.text)

    def __call__(self, piece: str) -> None:
        if piece:
            out.print(printable(piece), end="", markup=False)
            self.text += piece


def print_answer(answer: Answer, printer: TokenPrinter | None = None) -> None:
    streamed = printer is not None and printer.shown
    if streamed:
        out.print()  # end the streamed line
    if answer.notice:
        err.print(f"[yellow]{escape(answer.notice)}[/yellow]")
    if answer.refused:
        out.print(f"[yellow]{escape(answer.text)}[/yellow]")
        return
    if not (streamed and printer is not None and printer.text.strip() == answer.text.strip()):  # e.g. a fallback
        out.print(escape(answer.text))
    out.print("\n[bold]Sources[/bold]")
    for citation in answer.citations:
        out.print(f"  [{citation.n}] {paper_line(citation.paper)}")
    for sentence in answer.unsupported:
        out.print(f"[yellow]unsupported by its cited source:[/yellow] {escape(sentence)}")


def print_results(results: list[ScoredPaper]) -> None:
    if not results:
        out.print("[yellow]No papers match.[/yellow]")
        return
    out.print("[dim]rank, similarity (cosine of the query and the closest passage, 0-1), paper[/dim]")
    for rank, result in enumerate(results, start=1):
        out.print(f"{rank:>2}. [cyan]similarity {result.similarity:.2f}[/cyan]  {paper_line(result.paper)}")


def print_report(report: IngestReport, seconds: float) -> None:
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.skipped_count} skipped ({report.files} files, {seconds:.1f}s)"
    )
    if report.no_abstract:
        out.print(f"{report.no_abstract} without an abstract (not searchable; listed below by key)")
    for reason in report.skipped[:20]:
        out.print(f"  [dim]skipped: {escape(reason)}[/dim]")
    if report.skipped_count > 20:
        out.print(f"  [dim]... and {report.skipped_count - 20} more (see --json)[/dim]")


# ---- commands ------------------------------------------------------------------
