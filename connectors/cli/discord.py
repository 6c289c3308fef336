"""`paperbot discord`: runs the bot (discord.py is imported only here, when it runs)."""

from __future__ import annotations

from assistant.errors import PaperbotError
from assistant.settings import load_settings
from connectors.cli.shared import app, handle_errors


@app.command()
@handle_errors
def discord() -> None:
    """Run the Discord bot (token from DISCORD_TOKEN or PAPERBOT_DISCORD_TOKEN)."""
    settings = load_settings()
    token = settings.discord_token()
    if not token:
        raise PaperbotError("set DISCORD_TOKEN (or PAPERBOT_DISCORD_TOKEN) to the bot's token; see the README")
    from connectors.discord_bot import run_bot  # discord.py loads only for the bot

    run_bot(settings, token)
