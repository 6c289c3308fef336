"""paperbot's engine: parse paper libraries, index them in Chroma, answer with citations.

Nothing in this package imports the CLI framework or discord; connectors/ adapt it.
"""

__version__ = "0.1.0"
