"""Banyuwangi inter-agency event hub: connectors, Faust streams and the wire contract."""

__version__ = "0.1.0"
