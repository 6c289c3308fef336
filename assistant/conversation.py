"""A bounded conversation: the turns so far and the answer the user may ask about."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from assistant.models import Answer

MAX_TURNS = 10


@dataclass
class Conversation:
    turns: deque[Answer] = field(default_factory=lambda: deque(maxlen=MAX_TURNS))

    def add(self, answer: Answer) -> None:
        self.turns.append(answer)

    def reset(self) -> None:
        self.turns.clear()

    @property
    def last(self) -> Answer | None:
        return self.turns[-1] if self.turns else None
