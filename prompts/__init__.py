"""Prompt and message templates, installed as the data package `assistant.prompts`."""
