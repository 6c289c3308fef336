"""Prompt and message templates as text files; assistant.prompting loads and checks them."""
