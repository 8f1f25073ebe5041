"""Faust agents: a thin shell that decodes with the wire layer, calls the core, and sends."""
