"""The generated version of a summary: the model writes the themed review from the grouped
sources, and the same checks as generated answers apply. Invalid citations are removed,
references are renumbered in order of use (a paper the model never cites leaves the list),
and cited sentences that their source does not back are flagged."""

from __future__ import annotations

from dataclasses import replace

from assistant.citations import rewrite, unsupported_sentences
from assistant.generation import PromptSource, fenced
from assistant.llm import ChatClient
from assistant.models import Citation
from assistant.prompting import render, template
from assistant.summary import Summary, Theme, scope_line

WRITTEN = "Written by a language model from the abstracts; citations are checked."


def themed_sources(summary: Summary) -> str:
    by_number = {r.n: r.paper for r in summary.references}
    blocks = []
    for theme in summary.themes:
        sources = "\n\n".join(fenced(PromptSource(n, by_number[n], by_number[n].abstract)) for _, n in theme.sentences)
        blocks.append(f"Theme: {theme.name}\n\n{sources}")
    return "\n\n".join(blocks)


def written_by_llm(llm: ChatClient, summary: Summary) -> Summary:
    """The extractive summary's papers and themes, written up by the model; raises
    LLMUnavailable when the model cannot be reached, ValueError when it cites nothing valid."""
    messages = [
        {"role": "system", "content": template("summary_system")},
        {"role": "user", "content": render("summary_user", topic=summary.topic, themes=themed_sources(summary))},
    ]
    text, rewriter = rewrite(llm.complete(messages), len(summary.references))
    if not rewriter.order:
        raise ValueError("the model's summary cites no source")
    by_number = {r.n: r.paper for r in summary.references}
    new_number = {old: new for new, old in enumerate(rewriter.order, start=1)}
    references = tuple(Citation(new, by_number[old]) for old, new in new_number.items())
    evidence = {r.n: f"{r.paper.title}\n{r.paper.abstract}" for r in references}
    themes = tuple(
        Theme(t.name, tuple((s, new_number[n]) for s, n in t.sentences if n in new_number)) for t in summary.themes
    )
    scope = scope_line(summary.topic, references, themes, WRITTEN)
    return replace(
        summary,
        engine=llm.name,
        body=text,
        themes=themes,
        open_questions=(),
        references=references,
        scope=scope,
        unsupported=tuple(unsupported_sentences(text, evidence)),
    )
