"""The fault campaign of issue 11 (item 8): ``make faults`` = ``python -m bench.faults`` (bench/README.md)."""
