"""👍/👎 reactions on the bot's answers become feedback records (assistant/feedback.py).

Reactions arrive as raw gateway events (`on_raw_reaction_add`), so a reaction on an answer
posted before a restart, long gone from discord.py's message cache, still counts: the
answer is found by message id in the feedback log. Removing a reaction takes the vote back.
Reactions by bots, and by this bot itself, never count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import discord

from assistant.feedback import Verdict, feedback_log
from assistant.models import Answer
from assistant.settings import Settings

log = logging.getLogger("paperbot.discord")
REACTIONS: dict[str, Verdict] = {"👍": "good", "👎": "bad"}
# Skin tones and the emoji variation selector: 👍🏽 is a 👍 too.
_MODIFIERS = "".join(chr(c) for c in range(0x1F3FB, 0x1F400)) + "\ufe0f"


def verdict_of(emoji: discord.PartialEmoji) -> Verdict | None:
    if emoji.id is not None:  # a server's custom emoji, whatever its name
        return None
    return REACTIONS.get((emoji.name or "").rstrip(_MODIFIERS))


class DiscordFeedback:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.feedback.enabled
        self.log = feedback_log(settings.home, settings.feedback.keep_days)

    async def answered(self, answer: Answer, library: str, messages: Sequence[Any]) -> None:
        """Notes an answer the bot posted, by the ids of its messages. Never fails the answer."""
        if not self.enabled:
            return
        ids = [message.id for message in messages if getattr(message, "id", None)]
        try:
            await asyncio.to_thread(self.log.record_answer, answer, library, "discord", ids)
        except Exception:
            log.exception("could not note the answer for feedback")

    async def reacted(self, payload: discord.RawReactionActionEvent, me: Any, *, added: bool) -> None:
        if not self.enabled or me is None or payload.user_id == me.id:
            return
        if payload.member is not None and payload.member.bot:
            return
        verdict = verdict_of(payload.emoji)
        if verdict is None:
            return
        try:
            await asyncio.to_thread(self._count, payload.message_id, verdict, added)
        except Exception:
            log.exception("could not record a reaction")

    def _count(self, message_id: int, verdict: Verdict, added: bool) -> None:
        answer_id = self.log.answer_for_message(message_id)
        if answer_id is None:  # not an answer of ours (or one forgotten after keep_days)
            return
        if added:
            self.log.vote(answer_id, verdict)
        else:
            self.log.withdraw(answer_id, verdict)
