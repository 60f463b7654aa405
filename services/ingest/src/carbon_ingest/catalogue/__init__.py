"""Versioned indicator catalogue data files (see docs/indicators.md)."""
