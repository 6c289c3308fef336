"""The Discord bot: a thin adapter over the same Engine the CLI uses. The only module that
imports discord.

- "@paperbot question" opens a thread named after the question and answers there. Every
  later message in that thread is a follow-up, with the thread's turns as history.
  A reply to one of the bot's messages continues the same way.
- Slash commands: /ask, /search, /paper, /summarize, /stats, /help. Each is deferred at
  once and followed up.
- Retrieval and answering run in a worker thread (`asyncio.to_thread`), so the gateway
  heartbeat never waits on them. With an LLM, the answer streams into one message that
  is edited about once a second.
- No message pings anyone: `allowed_mentions` is none on the client and on every send.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord import app_commands

from assistant.conversation import Conversation
from assistant.engine import Engine
from assistant.errors import PaperbotError
from assistant.libraries import Libraries
from assistant.memory import limit_heaps
from assistant.models import Answer, Filters, ScoredPaper
from assistant.settings import Settings
from assistant.summary import markdown
from connectors.common import make_filters
from connectors.discord_digests import Digests
from connectors.discord_feedback import DiscordFeedback
from connectors.discord_related import register_related
from connectors.discord_text import (
    EMBED_LIMIT,
    MESSAGE_LIMIT,
    Cooldown,
    GuildLimit,
    embed_descriptions,
    inert,
    inert_summary,
    linked_title,
    safe_url,
    source_lines,
    split_text,
    thread_name,
)

log = logging.getLogger("paperbot.discord")
NO_PINGS = discord.AllowedMentions.none()
MAX_CONVERSATIONS = 500  # threads whose history is kept in memory
MENTION = re.compile(r"<@!?\d+>")
APOLOGY = "Sorry, something went wrong while answering that. The error is logged on the server."
HELP = (
    "Ask me about the papers in the library.\n"
    "- Mention me with a question: I answer in a new thread, where every message is a follow-up.\n"
    "- `/ask question [since] [until]`: an answer citing papers as [n], with a list of sources.\n"
    "- `/search query [k]`: the best matching papers.\n"
    "- `/paper id`: one paper's record.\n"
    "- `/related id [k]`: the papers closest to one paper, with the terms they share.\n"
    "- `/summarize topic`: a cited literature summary, with the full Markdown attached.\n"
    "- `/stats`: what the library holds.\n"
    "- `/subscribe daily-papers` or `/subscribe arxiv cs.LG` (optional keywords): new papers posted here daily.\n"
    "- React 👍 or 👎 to an answer: good answers become test questions for the library."
)
Send = Callable[..., Awaitable[Any]]


def sender(target: discord.abc.Messageable) -> Send:
    async def send(**kwargs: Any) -> discord.Message:
        return await target.send(**kwargs, allowed_mentions=NO_PINGS)

    return send


def followup_sender(interaction: discord.Interaction) -> Send:
    async def send(**kwargs: Any) -> discord.WebhookMessage:
        return await interaction.followup.send(**kwargs, wait=True, allowed_mentions=NO_PINGS)

    return send


def source_embeds(answer: Answer) -> list[discord.Embed]:
    descriptions = embed_descriptions(source_lines(answer.citations))
    return [discord.Embed(title="Sources" if i == 0 else None, description=d) for i, d in enumerate(descriptions)]


def results_embed(results: list[ScoredPaper]) -> discord.Embed:
    lines = [f"{rank}. {linked_title(r.paper)} `{inert(r.paper.id)}`" for rank, r in enumerate(results, start=1)]
    return discord.Embed(title="Search results", description="\n".join(lines)[:EMBED_LIMIT] or "No papers match.")


class TokenBuffer:
    """Tokens from the worker thread, read by the event loop's editor task."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, piece: str) -> None:
        with self._lock:
            self._parts.append(piece)

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


async def edit_while_streaming(message: Any, tokens: TokenBuffer, done: asyncio.Event, interval: float) -> None:
    """Edit about once per `interval`: often enough to read along, rarely enough for rate limits."""
    shown = ""
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=interval)
        text = inert(tokens.text().strip())
        if text and text != shown and not done.is_set():
            await message.edit(content=text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…")
            shown = text


class PaperbotBot(discord.Client):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        limit_heaps()  # a long-lived process answering from worker threads: fewer heaps keep less
        intents = discord.Intents.default()
        intents.message_content = True  # mentions and thread follow-ups are read as text
        intents.reactions = True  # 👍/👎 on answers, as raw events so old messages count too
        # Replicas split the guilds between them as gateway shards; one process takes them all.
        super().__init__(
            intents=intents,
            allowed_mentions=NO_PINGS,
            shard_id=settings.discord.shard_id,
            shard_count=settings.discord.shard_count,
        )
        self.engine = engine  # the default library's
        self.libraries = Libraries(engine, settings.discord.libraries)
        self.feedback = DiscordFeedback(settings)
        self.settings = settings.discord
        self.cooldown = Cooldown(self.settings.cooldown)
        self.guild_limit = GuildLimit(self.settings.max_concurrent)
        self.conversations: OrderedDict[int, Conversation] = OrderedDict()
        self.tree = app_commands.CommandTree(self)
        self.tree.error(on_command_error)
        register_commands(self.tree, self)
        register_related(self.tree, self)
        self.digests = Digests(self, self.engine_at, settings)  # /subscribe and the scheduled digests
        self.digests.register(self.tree)
        self._engine_lock = asyncio.Lock()
        self._engines_ready: set[int] = set()

    async def ready_engine(self, where: Any = None) -> Engine:
        """The engine of the library `where` maps to, its parts opened once: two commands arriving
        together would otherwise both open (and maybe rebuild) the same indexes in two threads."""
        engine = self.engine_at(where)
        async with self._engine_lock:
            if id(engine) not in self._engines_ready:
                await asyncio.to_thread(open_parts, engine)
                self._engines_ready.add(id(engine))
        return engine

    async def setup_hook(self) -> None:
        self.digests.start()
        if self.settings.guild:  # guild commands appear at once; global ones can take an hour
            guild = discord.Object(id=self.settings.guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    # ---- messages ------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or not self.allowed(message.channel, message.author):
            return
        channel = message.channel
        if isinstance(channel, discord.Thread) and channel.owner_id == me.id:
            conversation = self.conversation(channel.id)
            await self.answer(message.content, sender(channel), message.author, conversation, where=channel)
        elif me in message.mentions:
            await self.open_thread(message)
        elif self.replies_to_me(message):
            conversation = self.conversation(channel.id)
            await self.answer(message.content, sender(channel), message.author, conversation, where=channel)

    async def open_thread(self, message: discord.Message) -> None:
        question = MENTION.sub("", message.content).strip()
        if not question:
            await message.reply(HELP, allowed_mentions=NO_PINGS)
            return
        if message.guild is None:  # a direct message has no threads: the DM is the conversation
            channel = message.channel
            await self.answer(question, sender(channel), message.author, self.conversation(channel.id), where=channel)
            return
        thread = await message.create_thread(name=thread_name(question))
        await self.answer(question, sender(thread), message.author, self.conversation(thread.id), where=thread)

    def replies_to_me(self, message: discord.Message) -> bool:
        replied = message.reference.resolved if message.reference else None
        return isinstance(replied, discord.Message) and replied.author == self.user

    def allowed(self, channel: Any, user: Any) -> bool:
        channel_id = getattr(channel, "parent_id", None) or getattr(channel, "id", None)
        if self.settings.channels and channel_id not in self.settings.channels:
            return False
        roles = {role.id for role in getattr(user, "roles", [])}
        return not self.settings.roles or bool(roles & set(self.settings.roles))

    def engine_at(self, where: Any) -> Engine:
        """The engine of the library a channel, thread or interaction's server (or channel) is
        mapped to; a thread counts as its parent channel."""
        if where is None:
            return self.engine
        if isinstance(where, discord.Interaction):
            channel_id = getattr(where.channel, "parent_id", None) or where.channel_id
            return self.libraries.engine_for(where.guild_id, channel_id)
        guild = getattr(where, "guild", None)
        channel_id = getattr(where, "parent_id", None) or getattr(where, "id", None)
        return self.libraries.engine_for(guild.id if guild else None, channel_id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.feedback.reacted(payload, self.user, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.feedback.reacted(payload, self.user, added=False)

    def conversation(self, key: int) -> Conversation:
        conversation = self.conversations.pop(key, None) or Conversation()
        self.conversations[key] = conversation  # most recent last
        while len(self.conversations) > MAX_CONVERSATIONS:
            self.conversations.popitem(last=False)
        return conversation

    # ---- answering -----------------------------------------------------------

    async def answer(
        self,
        question: str,
        send: Send,
        user: Any,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
        *,
        where: Any = None,
    ) -> None:
        """Limits first, then the engine of the library `where` (a channel, thread or
        interaction) is mapped to, off the event loop; failures become an apology."""
        if wait := self.cooldown.retry_after(user.id):
            await send(content=f"Please wait {wait:.0f} s before asking again.")
            return
        guild_id = getattr(getattr(user, "guild", None), "id", 0)
        with self.guild_limit.slot(guild_id) as free:
            if not free:
                await send(content="I am answering several questions here already; please ask again in a moment.")
                return
            try:
                engine = await self.ready_engine(where)
                await self.deliver(question, send, conversation, filters, engine)
            except PaperbotError as exc:  # bad input, or a part that is down: the user can act on it
                await send(content=f"Sorry: {inert(str(exc))}")
            except Exception:
                log.exception("answering %r failed", question)
                await send(content=APOLOGY)

    async def deliver(
        self, question: str, send: Send, conversation: Conversation | None, filters: Filters | None, engine: Engine
    ) -> None:
        history = list(conversation.turns) if conversation else []
        first = None
        if engine.generator is not None:  # stream into one message, edited as tokens arrive
            first = await send(content="…")
            tokens, done = TokenBuffer(), asyncio.Event()
            editor = asyncio.create_task(edit_while_streaming(first, tokens, done, self.settings.stream_interval))
            try:
                answer = await asyncio.to_thread(engine.ask, question, filters, history=history, on_token=tokens)
            finally:
                done.set()
                await editor
        else:
            answer = await asyncio.to_thread(engine.ask, question, filters, history=history)
        if conversation is not None:
            conversation.add(answer)
        messages = await post_answer(send, answer, first)
        await self.feedback.answered(answer, engine.settings.library, messages)


async def post_answer(send: Send, answer: Answer, first: Any | None) -> list[Any]:
    """The text in pieces within Discord's limits, then the sources as embeds; returns the
    messages, any of which may get a 👍/👎."""
    text = inert(answer.text) if not answer.notice else f"_{inert(answer.notice)}_\n\n{inert(answer.text)}"
    pieces = split_text(text)
    sent = []
    if first is not None:
        await first.edit(content=pieces[0])
        pieces, sent = pieces[1:], [first]
    for piece in pieces:
        sent.append(await send(content=piece))
    for embed in source_embeds(answer):  # one embed a message: a message holds 6000 characters of embeds
        sent.append(await send(embed=embed))
    return sent


def register_commands(tree: app_commands.CommandTree, bot: PaperbotBot) -> None:
    register_question_commands(tree, bot)
    register_library_commands(tree, bot)


def register_question_commands(tree: app_commands.CommandTree, bot: PaperbotBot) -> None:
    """/ask, /search and /summarize: the commands that read the library for a question."""

    @tree.command(name="ask", description="Answer a question with numbered citations to papers.")
    @app_commands.describe(question="Your question", since="Only papers from YYYY-MM-DD on", until="Up to YYYY-MM-DD")
    async def ask(
        interaction: discord.Interaction, question: str, since: str | None = None, until: str | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        filters = make_filters(since, until, None)  # a bad date reaches on_command_error
        await bot.answer(question, followup_sender(interaction), interaction.user, None, filters, where=interaction)

    @tree.command(name="search", description="List the papers that best match a query.")
    @app_commands.describe(query="What to look for", k="How many papers (1-25)")
    async def search(interaction: discord.Interaction, query: str, k: app_commands.Range[int, 1, 25] = 5) -> None:
        await interaction.response.defer(thinking=True)
        engine = await bot.ready_engine(interaction)
        await run_reply(interaction, lambda: results_embed(engine.search(query, k)))

    @tree.command(name="summarize", description="A cited literature summary of a topic, as a Markdown file.")
    @app_commands.describe(topic="The topic to review")
    async def summarize(interaction: discord.Interaction, topic: str) -> None:
        await interaction.response.defer(thinking=True)
        send = followup_sender(interaction)
        if wait := bot.cooldown.retry_after(interaction.user.id):  # the most expensive command
            await send(content=f"Please wait {wait:.0f} s before asking again.")
            return
        engine = await bot.ready_engine(interaction)
        summary = await asyncio.to_thread(engine.summarize, topic)
        shown = markdown(inert_summary(summary))
        if not summary.enough:
            await send(content=shown)
            return
        attachment = discord.File(io.BytesIO(markdown(summary).encode()), filename=summary_filename(topic))
        await send(content=split_text(shown)[0], file=attachment)


def register_library_commands(tree: app_commands.CommandTree, bot: PaperbotBot) -> None:
    """/paper, /stats and /help: what the library holds and how to ask."""

    @tree.command(name="paper", description="Show one paper's record.")
    async def paper(interaction: discord.Interaction, paper_id: str) -> None:
        await interaction.response.defer(thinking=True)
        engine = await bot.ready_engine(interaction)
        await run_reply(interaction, lambda: paper_embed(engine, paper_id))

    @tree.command(name="stats", description="What the library holds.")
    async def stats(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        engine = await bot.ready_engine(interaction)
        await run_reply(interaction, lambda: stats_embed(engine))

    @tree.command(name="help", description="How to ask paperbot.")
    async def help_command(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(HELP, ephemeral=True, allowed_mentions=NO_PINGS)


async def run_reply(interaction: discord.Interaction, build: Callable[[], discord.Embed]) -> None:
    """The embed built off the event loop; a failure reaches on_command_error."""
    embed = await asyncio.to_thread(build)
    await followup_sender(interaction)(embed=embed)


async def on_command_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """Every slash command's failure: one line the user can act on, or an apology (logged)."""
    original = getattr(error, "original", error)
    if isinstance(original, PaperbotError):
        content = f"Sorry: {inert(str(original))}"
    else:
        name = interaction.command.name if interaction.command else "?"
        log.error("command %s failed", name, exc_info=original)
        content = APOLOGY
    if interaction.response.is_done():
        await followup_sender(interaction)(content=content)
    else:
        await interaction.response.send_message(content, ephemeral=True, allowed_mentions=NO_PINGS)


def open_parts(engine: Engine) -> None:
    """Opens what every question uses (indexes, models), so later calls only read."""
    engine.lexical()
    engine.retriever  # noqa: B018  (cached properties: reading them opens them)
    engine.answerer  # noqa: B018
    engine.generator  # noqa: B018


def summary_filename(topic: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:60] or "summary"
    return f"{slug}.md"


def paper_embed(engine: Engine, paper_id: str) -> discord.Embed:
    record = engine.paper(paper_id)
    description = inert(record.abstract)[:EMBED_LIMIT]
    embed = discord.Embed(title=inert(record.title)[:256], url=safe_url(record.url), description=description)
    embed.add_field(name="date", value=record.date.isoformat() if record.date else "unknown")
    embed.add_field(name="id", value=inert(record.id))
    return embed


def stats_embed(engine: Engine) -> discord.Embed:
    stats = engine.stats()
    sources = ", ".join(f"{inert(name)}: {count}" for name, count in stats.by_source.items()) or "none"
    return discord.Embed(title="Library", description=f"{stats.papers} papers, {stats.chunks} chunks\n{sources}")


def run_bot(settings: Settings, token: str) -> None:
    """Blocks until the bot is stopped (Ctrl-C)."""
    engine = Engine(settings)
    if engine.needs_sample():
        engine.ingest_sample()
    _ = engine.generator  # PAPERBOT_LLM=local: its one server starts and loads now, not at the first question
    try:
        PaperbotBot(engine, settings).run(token, log_handler=logging.StreamHandler(), log_level=logging.INFO)
    except discord.LoginFailure:
        raise PaperbotError("Discord rejected the token: check DISCORD_TOKEN") from None
    except aiohttp.ClientError as exc:
        raise PaperbotError(f"cannot reach Discord ({type(exc).__name__}); check the network") from None
