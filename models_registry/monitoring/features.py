"""Which inputs of a version are monitored, and how, read from its contract.

Numbers and integers are numeric features; strings, enums and booleans are categorical.
Fields marked ``x-pii`` or with an email format are not profiled: a baseline must not become a
second copy of personal data, and the distribution of e-mail addresses says nothing useful.
"""

from __future__ import annotations

from dataclasses import dataclass

NUMERIC = "numeric"
CATEGORICAL = "categorical"
OUTPUT = "output"


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # numeric | categorical
    json_type: str
    pii: bool = False


def _kind(schema: dict) -> tuple[str, str]:
    json_type = schema.get("type", "")
    if isinstance(json_type, list):
        json_type = next((t for t in json_type if t != "null"), "")
    if json_type in ("integer", "number") and "enum" not in schema:
        return NUMERIC, json_type
    return CATEGORICAL, json_type or "string"


def input_features(contract: dict) -> list[Feature]:
    features = []
    for name, schema in (contract or {}).get("properties", {}).items():
        schema = schema if isinstance(schema, dict) else {}
        kind, json_type = _kind(schema)
        pii = bool(schema.get("x-pii")) or schema.get("format") == "email"
        features.append(Feature(name, kind, json_type, pii))
    return features


def monitored_features(contract: dict) -> list[Feature]:
    return [f for f in input_features(contract) if not f.pii]


def output_feature(output_spec: dict) -> Feature | None:
    if not output_spec:
        return None
    kind, json_type = _kind(output_spec)
    return Feature(OUTPUT, kind, json_type)
