"""Paper feeds: Hugging Face daily papers, arXiv listing feeds (RSS) and the arXiv API (Atom).

Fetchers turn responses into Paper records (untrusted input: bounded, validated), and the
engine ingests them incrementally. Nothing here imports discord or the CLI framework.
"""
