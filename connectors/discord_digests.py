"""Digests of new papers in Discord. A channel subscribes to a feed (`/subscribe
daily-papers`, `/subscribe arxiv cs.LG`, optional keywords that rank what it sees); at the
hours in settings (feeds.digest_hours, UTC) the bot fetches each subscribed feed once and
posts each channel the top new papers it has not had yet: a title link and one sentence of
what the paper finds. Subscriptions and what each channel got live in the home (SQLite), so
they survive restarts. Only members with Manage Channels may change a channel's subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import tasks

from assistant.errors import PaperbotError
from assistant.feeds.digest import (
    Subscription,
    SubscriptionStore,
    choose,
    clean_keywords,
    feed_name,
    feed_request,
    finding,
)
from assistant.feeds.fetch import DAILY, FetchResult, fetch_feed
from assistant.feeds.http import FeedClient
from assistant.feeds.records import FeedItem
from assistant.settings import Settings
from connectors.discord_text import embed_descriptions, inert

if TYPE_CHECKING:
    from assistant.engine import Engine

log = logging.getLogger("paperbot.discord.digests")
NO_PINGS = discord.AllowedMentions.none()
FEED_CHOICES = [
    app_commands.Choice(name="Hugging Face daily papers", value=DAILY),
    app_commands.Choice(name="arXiv category (name it in `category`)", value="arxiv"),
]
NEEDS_MANAGE = "Only members with the Manage Channels permission can change this channel's digests."
Fetch = Callable[..., FetchResult]


def digest_times(hours: list[int]) -> list[time]:
    return [time(hour=hour, tzinfo=UTC) for hour in sorted(set(hours))]


def feed_title(feed: str) -> str:
    return "Hugging Face daily papers" if feed == DAILY else f"arXiv {feed.removeprefix('arxiv:')}"


def digest_lines(items: list[FeedItem]) -> list[str]:
    """Feed text is untrusted: titles and sentences go through `inert`; links are ours."""
    lines = []
    for n, item in enumerate(items, start=1):
        paper = item.paper
        title = inert(paper.title.replace("[", "(").replace("]", ")"))
        safe_url = paper.url and paper.url.startswith("https://") and not any(c in paper.url for c in " ()<>")
        linked = f"[{title}]({paper.url})" if safe_url else title
        lines.append(f"**{n}.** {linked}\n{inert(finding(paper.abstract))}")
    return lines


def digest_embeds(feed: str, items: list[FeedItem]) -> list[discord.Embed]:
    descriptions = embed_descriptions(digest_lines(items))
    title = f"New papers: {feed_title(feed)}"
    return [discord.Embed(title=title if i == 0 else None, description=d) for i, d in enumerate(descriptions)]


class Digests:
    """The schedule, the posting and the slash commands; `clock` and `fetch` are injectable."""

    def __init__(
        self,
        client: discord.Client,
        engine_for: Callable[[Any], Engine],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        fetch: Fetch = fetch_feed,
    ) -> None:
        self.client = client
        self.engine_for = engine_for  # a channel -> the engine of the library it is mapped to
        self.settings = settings.feeds
        self.store = SubscriptionStore(settings.home)
        self.clock = clock
        self.fetch = fetch
        self.loop = tasks.loop(time=digest_times(self.settings.digest_hours))(self.tick)

    def start(self) -> None:
        if self.settings.digest_hours and not self.loop.is_running():
            self.loop.start()

    async def tick(self) -> int:
        """One scheduled run. An exception would end a tasks.loop for good: log it instead,
        so the next hour runs again."""
        try:
            return await self.run()
        except Exception:
            log.exception("digest run failed")
            return 0

    async def run(self) -> int:
        """Fetch every subscribed feed once, then post each subscriber its digest.
        Returns the number of papers posted."""
        posted = 0
        with FeedClient(self.settings) as client:  # one client: arXiv's spacing holds across feeds
            for (feed, _), (engine, subscribers) in (await self.by_feed_and_library()).items():
                items = await self.fetch_items(feed, engine, client)
                for subscription in subscribers:
                    posted += await self.post(subscription, items)
        return posted

    async def by_feed_and_library(self) -> dict[tuple[str, int], tuple[Engine, list[Subscription]]]:
        """Subscriptions grouped so each feed is fetched once into each library that a
        subscribed channel is mapped to (and its papers land there, not in the default one)."""
        groups: dict[tuple[str, int], tuple[Engine, list[Subscription]]] = {}
        for subscription in await asyncio.to_thread(self.store.subscriptions):
            channel = self.client.get_channel(subscription.channel_id)
            if channel is None:  # with shards, each replica serves its own guilds
                continue
            engine = self.engine_for(channel)
            groups.setdefault((subscription.feed, id(engine)), (engine, []))[1].append(subscription)
        return groups

    async def fetch_items(self, feed: str, engine: Engine, client: FeedClient) -> list[FeedItem]:
        """A feed that fails is logged and skipped: the other feeds still get their digests."""
        try:
            request = feed_request(feed)
            result = await asyncio.to_thread(self.fetch, engine, request, client=client, now=self.clock)
        except PaperbotError as exc:
            log.warning("digest: fetching %s failed: %s", feed, exc)
            return []
        except Exception:
            log.exception("digest: fetching %s failed", feed)
            return []
        return result.items

    async def post(self, subscription: Subscription, items: list[FeedItem]) -> int:
        channel = self.client.get_channel(subscription.channel_id)
        if not items or not isinstance(channel, discord.abc.Messageable):
            return 0
        ids = [item.paper.id for item in items]
        already = await asyncio.to_thread(self.store.delivered, subscription.channel_id, ids)
        chosen = choose(items, subscription.keywords, already, self.settings.digest_papers)
        if not chosen:
            return 0
        # Recorded before sending: a send that fails half way never leads to a paper posted twice.
        await asyncio.to_thread(
            self.store.mark_delivered, subscription.channel_id, [item.paper.id for item in chosen], self.clock()
        )
        try:
            for embed in digest_embeds(subscription.feed, chosen):
                await channel.send(embed=embed, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("digest: cannot post to channel %s: %s", subscription.channel_id, exc)
            return 0
        return len(chosen)

    # ---- slash commands -----------------------------------------------------------

    def register(self, tree: app_commands.CommandTree[Any]) -> None:
        register_commands(tree, self)

    def subscribe(self, interaction: discord.Interaction, feed: str, category: str | None, keywords: str | None) -> str:
        if interaction.guild_id is None or interaction.channel_id is None:
            return "Digests are for server channels; use /subscribe in one."
        if not may_manage(interaction):
            return NEEDS_MANAGE
        name = feed_name(feed, category)
        words = clean_keywords(keywords)
        self.store.subscribe(Subscription(interaction.channel_id, interaction.guild_id, name, words), self.clock())
        ranked = f", ranked by: {inert(words)}" if words else ""
        return f"This channel now gets digests of {feed_title(name)} at {self.hours()} UTC{ranked}."

    def unsubscribe(self, interaction: discord.Interaction, feed: str | None, category: str | None) -> str:
        if interaction.channel_id is None:
            return "Nothing to unsubscribe here."
        if not may_manage(interaction):
            return NEEDS_MANAGE
        name = feed_name(feed, category) if feed else None
        removed = self.store.unsubscribe(interaction.channel_id, name)
        if not removed:
            return "This channel had no such subscription."
        return f"Removed {removed} subscription{'s' if removed > 1 else ''} from this channel."

    def listing(self, interaction: discord.Interaction) -> str:
        subscriptions = self.store.subscriptions(interaction.channel_id) if interaction.channel_id else []
        if not subscriptions:
            return "This channel has no digests. `/subscribe daily-papers` or `/subscribe arxiv cs.LG` adds one."
        lines = [
            f"- {feed_title(s.feed)}" + (f" (ranked by: {inert(s.keywords)})" if s.keywords else "")
            for s in subscriptions
        ]
        return f"Digests here, at {self.hours()} UTC:\n" + "\n".join(lines)

    def hours(self) -> str:
        return ", ".join(f"{t.hour:02d}:00" for t in digest_times(self.settings.digest_hours)) or "no hours (off)"


def may_manage(interaction: discord.Interaction) -> bool:
    """Manage Channels in this channel (administrators have every permission)."""
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_channels


def register_commands(tree: app_commands.CommandTree[Any], digests: Digests) -> None:
    @tree.command(name="subscribe", description="Post a digest of new papers from a feed to this channel.")
    @app_commands.describe(
        feed="daily-papers or arxiv", category="arXiv category, e.g. cs.LG", keywords="Words that rank the papers"
    )
    @app_commands.choices(feed=FEED_CHOICES)
    @app_commands.default_permissions(manage_channels=True)
    async def subscribe(
        interaction: discord.Interaction, feed: str, category: str | None = None, keywords: str | None = None
    ) -> None:
        await reply(interaction, lambda: digests.subscribe(interaction, feed, category, keywords))

    @tree.command(name="unsubscribe", description="Stop a digest in this channel (all of them without a feed).")
    @app_commands.choices(feed=FEED_CHOICES)
    @app_commands.default_permissions(manage_channels=True)
    async def unsubscribe(
        interaction: discord.Interaction, feed: str | None = None, category: str | None = None
    ) -> None:
        await reply(interaction, lambda: digests.unsubscribe(interaction, feed, category))

    @tree.command(name="subscriptions", description="The paper digests this channel gets.")
    async def subscriptions(interaction: discord.Interaction) -> None:
        await reply(interaction, lambda: digests.listing(interaction))


async def reply(interaction: discord.Interaction, answer: Callable[[], str]) -> None:
    """Quick SQLite work, answered at once; only the caller sees the reply."""
    try:
        text = answer()
    except PaperbotError as exc:
        text = f"Sorry: {exc}"
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
