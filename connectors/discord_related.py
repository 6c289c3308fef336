"""The /related slash command: the papers closest to one paper, with the terms they share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from assistant.engine import Engine
from connectors.discord_text import EMBED_LIMIT, inert

if TYPE_CHECKING:
    from connectors.discord_bot import PaperbotBot


def related_embed(engine: Engine, paper_id: str, k: int) -> discord.Embed:
    paper, found = engine.related(paper_id, k)
    lines = []
    for rank, item in enumerate(found, start=1):
        title = inert(item.paper.title)
        linked = f"[{title}]({item.paper.url})" if item.paper.url else title
        shared = f"\n  shared: {inert(', '.join(item.shared_terms))}" if item.shared_terms else ""
        lines.append(f"{rank}. {linked} `{item.paper.id}` ({item.similarity:.2f}){shared}")
    description = "\n".join(lines)[:EMBED_LIMIT] or "No other papers in the library."
    return discord.Embed(title=f"Related to: {paper.title}"[:256], description=description)


def register_related(tree: app_commands.CommandTree, bot: PaperbotBot) -> None:
    from connectors.discord_bot import run_reply  # defined after the bot class; imported at registration

    @tree.command(name="related", description="The papers closest to one paper, with the terms they share.")
    @app_commands.describe(paper_id="A paper id as /search shows it", k="How many papers (1-25)")
    async def related(interaction: discord.Interaction, paper_id: str, k: app_commands.Range[int, 1, 25] = 5) -> None:
        await interaction.response.defer(thinking=True)
        engine = bot.engine_at(interaction)
        await run_reply(interaction, lambda: related_embed(engine, paper_id, k))
