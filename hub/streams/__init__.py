"""The hub worker: ``Worker`` (``worker.py``) moves batches of records in and out of Kafka around the
request engine (``engine.py``, ``journey.py``) and the output factory (``outputs.py``); ``app.py`` wires it to
Faust."""
