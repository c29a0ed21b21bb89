"""Corrections to calls already stored and already added up in the rollups, made as
inserted rows (see migration 020): a cancel row for the stored version, and a new
version where the call stays. Used when a late twin replaces a stored span (twins/) and
by re-pricing (pricing/repricing.py)."""
from .replacements import Replacement, apply_replacements

__all__ = ["Replacement", "apply_replacements"]
