"""Helpers for the operations tests: PromQL metric names, the hub's exported metric names, a consumer
group's assignment, and the `hub` command tree."""

from __future__ import annotations

import re
from collections.abc import Iterable

import click
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from prometheus_client import REGISTRY, CollectorRegistry

# Series that Prometheus itself makes (not exported by the hub).
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan", "atan2",
}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?!\s*\()(?![\w:])")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels, Grafana variables and
    durations removed). ``{__name__="x"}`` selectors are read too."""
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)             # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)            # ranges and subqueries
    text = _GROUPING.sub("", text)                    # by (...), on (...), group_left (...)
    text = re.sub(r"\boffset\s+\S+", "", text)
    for name in _IDENT.findall(text):
        if name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def exported_sample_names(registry: CollectorRegistry = REGISTRY) -> set[str]:
    """Every series name the registry can export, with the suffixes Prometheus sees
    (counter ``_total``/``_created``, histogram ``_bucket``/``_sum``/``_count``, info ``_info``)."""
    names = set()
    for collector in list(registry._collector_to_names):  # noqa: SLF001 - describe() is the public view
        for family in (collector.describe() if hasattr(collector, "describe") else collector.collect()):
            suffixes = {"counter": ["_total", "_created"],
                        "histogram": ["_bucket", "_sum", "_count", "_created"],
                        "summary": ["", "_sum", "_count", "_created"], "info": ["_info"],
                        "gaugehistogram": ["_bucket", "_gsum", "_gcount"]}
            names.update(family.name + s for s in suffixes.get(family.type, [""]))
    return names


def unknown_metrics(exprs: Iterable[str], exported: set[str]) -> dict[str, set[str]]:
    """``{expr: names it uses that nobody exports}`` (empty when every name is real)."""
    out = {}
    for expr in exprs:
        missing = promql_metric_names(expr) - exported - PROMETHEUS_SYNTHETIC
        if missing:
            out[expr] = missing
    return out


async def group_assignment(settings, group: str) -> dict[str, set[tuple[str, int]]]:  # type: ignore[no-untyped-def]
    """``{member client host/id: {(topic, partition), ...}}`` of a consumer group, from the broker."""
    from hub.wire.clients import kafka_options

    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    members: dict[str, set[tuple[str, int]]] = {}
    for described in response.groups:
        # (member_id, [instance id,] client_id, client_host, metadata, assignment)
        for member in described[5]:
            member_id, assignment = member[0], member[-1]
            decoded = ConsumerProtocolMemberAssignment.decode(assignment) if assignment else None
            parts = {(topic, p) for topic, partitions in (decoded.assignment if decoded else [])
                     for p in partitions}
            members[member_id] = parts
    return members


def command_exists(group: click.Group, argv: list[str]) -> str | None:
    """None when ``argv`` (without the leading ``hub``) names a real command with valid options,
    else what is wrong."""
    command: click.Command = group
    args = list(argv)
    path = []
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        sub = command.commands.get(name)
        if sub is None:
            return f"`hub {' '.join(path + [name])}` does not exist"
        path.append(name)
        command = sub
    if isinstance(command, click.Group):
        return f"`hub {' '.join(path)}` is a group, not a command"
    try:
        command.make_context(" ".join(["hub", *path]), args)
    except click.ClickException as exc:
        return f"`hub {' '.join(argv)}`: {exc.format_message()}"
    return None
