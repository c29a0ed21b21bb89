"""Twins: the spans of one LLM call emitted by several instrumentations, told apart from
separate calls so that each call is counted once (see index.py)."""
from .index import DEFAULT_WAIT_NS, TwinIndex, Verdict

__all__ = ["DEFAULT_WAIT_NS", "TwinIndex", "Verdict"]
