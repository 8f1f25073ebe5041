"""Benchmarks of the hub (issue 6): ``python -m bench`` (or ``make bench``), ``python -m bench --quick``.

Modules: ``config`` (presets and overrides), ``codec`` (Avro vs JSON per event, the router in-process),
``growth`` (lifecycle state at 10k/100k/1M open requests), ``recovery`` (rebuilding a 1M-key table from
a compacted changelog), ``pipeline`` (the real stack: connector -> hub workers -> subscribers),
``raw_kafka`` (raw aiokafka produce->consume and pass-through, the comparators), ``profile`` (py-spy),
``report`` (``results/latest.json`` and ``results/latest.md``). Helper processes: ``loadgen``,
``passthrough``, ``worker``. Nothing here is imported by the hub or its tests.
"""
