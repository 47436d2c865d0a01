"""Is a prediction sent again the same one? Pure comparison, no database.

"Same content" compares parsed fields: key order, 0.5 vs 0.50, 1 vs 1.0 and an omitted
version (the one it resolved to) don't matter. The content hash lets the intake compare a
replay with the stored row without reading its JSON back; the field-by-field comparison says
which fields differ when they do.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from decimal import Decimal
from typing import Any

COMPARED_FIELDS = (
    "version",
    "inputs",
    "output",
    "confidence",
    "value_amount",
    "occurred_at",
    "context",
)


def normalise(value: Any) -> Any:
    """JSON value with key order and 1 vs 1.0 made irrelevant, for replay comparison."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal):
        return normalise(float(value))
    return value


def comparable(
    *, version_label: str, inputs, output, confidence, value_amount, occurred_at, context
) -> dict:
    return {
        "version": version_label,
        "inputs": normalise(inputs),
        "output": normalise(output),
        "confidence": normalise(float(confidence)),
        "value_amount": None if value_amount is None else f"{Decimal(value_amount):.2f}",
        "occurred_at": None if occurred_at is None else occurred_at.astimezone(UTC).isoformat(),
        "context": normalise(context or {}),
    }


def content_hash(comparable: dict) -> str:
    blob = json.dumps(comparable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def stored_comparable(prediction) -> dict:
    """The comparable fields of a stored Prediction row."""
    return comparable(
        version_label=prediction.version.label,
        inputs=prediction.inputs,
        output=prediction.output,
        confidence=prediction.confidence,
        value_amount=prediction.value_amount,
        occurred_at=prediction.occurred_at,
        context=prediction.context,
    )


def differing_fields(a: dict, b: dict) -> list[str]:
    return [name for name in COMPARED_FIELDS if a.get(name) != b.get(name)]
