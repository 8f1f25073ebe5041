"""Connectors: one module per source or agency, each a thin adapter onto the wire layer."""
