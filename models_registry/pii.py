"""Personal data in inputs: fields a contract marks ``"x-pii": true`` are shown masked.

The mask is a keyed hash (HMAC-SHA256 with PII_HASH_KEY), so equal values still match across
rows and exports without revealing them, and nobody without the key can test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings


def pii_fields(contract: dict | None) -> set[str]:
    """Top-level input fields the contract marks as personal data."""
    properties = (contract or {}).get("properties") or {}
    return {
        name
        for name, schema in properties.items()
        if isinstance(schema, dict) and schema.get("x-pii") is True
    }


def mask_value(value: Any, key: str | None = None) -> str:
    secret = (key or settings.PII_HASH_KEY).encode()
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "pii:" + hmac.new(secret, blob.encode(), hashlib.sha256).hexdigest()[:20]


def masked_inputs(contract: dict | None, inputs: Any, key: str | None = None) -> Any:
    """``inputs`` with every PII field replaced by its mask; other fields unchanged."""
    fields = pii_fields(contract)
    if not fields or not isinstance(inputs, dict):
        return inputs
    return {
        name: mask_value(value, key) if name in fields else value for name, value in inputs.items()
    }
