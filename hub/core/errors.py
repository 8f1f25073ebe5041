"""Validation errors that name the offending field and say why it was refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.errors import ContentError


class ValidationError(ContentError):
    """One refused value: ``str(e) == f"{field}: {reason}"`` (``reason``: human text; the class's
    ``reason_code`` is the stable code)."""

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from self.args so subclasses with other signatures pickle correctly.
        return (type(self), self.args)

    def as_dict(self) -> dict[str, str]:
        """``{"field": ..., "reason": ...}`` for API responses and dead-letter records."""
        return {"field": self.field, "reason": self.reason}


class ValidationErrors(ContentError):
    """Several refused values reported at once; ``str`` joins them with ``"; "``."""

    errors: list[ValidationError]

    def __init__(self, errors: Iterable[ValidationError]) -> None:
        self.errors = list(errors)
        super().__init__(tuple(self.errors))

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self.errors),))

    def as_dicts(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]
