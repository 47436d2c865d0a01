"""Input contracts and output specs: JSON Schema (draft 2020-12), compiled once per version.

The intake checks every prediction against its version's contract, so validators are compiled
once per (version, last change) in each process and reused; a contract edited in the admin
changes ``updated_at`` and is recompiled on next use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

_FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER


def empty_object_schema() -> dict:
    return {"type": "object"}


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable draft 2020-12 schema, or None when it is."""
    if not isinstance(schema, dict):
        return "the schema must be a JSON object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{error.message}" + (f" (at {where})" if where else "")
    return None


def _json_path(prefix: str, parts) -> str:
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@dataclass(frozen=True)
class Violation:
    path: str
    message: str

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


def _violations(validator: Draft202012Validator, instance: Any, prefix: str) -> list[Violation]:
    found = []
    for error in validator.iter_errors(instance):
        parts = list(error.absolute_path)
        message = error.message
        if error.validator == "required" and isinstance(error.instance, dict):
            # jsonschema reports a missing field at its parent; a reader wants the field.
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                found.append(Violation(_json_path(prefix, [*parts, name]), "is required"))
            continue
        found.append(Violation(_json_path(prefix, parts), message))
    found.sort(key=lambda v: v.path)
    return found


def _fast(schema: dict):
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


class CompiledContract:
    """A version's input contract and output spec, ready to check predictions.

    Most predictions are valid, so each is first checked by jsonschema-rs (compiled Rust, about
    a microsecond); only one that fails is walked by the Python validator, whose messages
    and paths are what callers see.
    """

    def __init__(self, input_contract: dict, output_spec: dict):
        self._inputs = Draft202012Validator(input_contract or {}, format_checker=_FORMAT_CHECKER)
        self._output = Draft202012Validator(output_spec or {}, format_checker=_FORMAT_CHECKER)
        self._inputs_fast = _fast(input_contract or {})
        self._output_fast = _fast(output_spec or {})

    def input_violations(self, inputs: Any) -> list[Violation]:
        if self._inputs_fast.is_valid(inputs):
            return []
        return _violations(self._inputs, inputs, "inputs")

    def output_violations(self, output: Any) -> list[Violation]:
        if self._output_fast.is_valid(output):
            return []
        found = _violations(self._output, output, "output")
        # Nested output paths are folded to "output": the spec is about the answer as a whole.
        return [Violation("output", v.message) if v.path != "output" else v for v in found]

    def violations(self, inputs: Any, output: Any) -> list[Violation]:
        return self.input_violations(inputs) + self.output_violations(output)


_cache: dict[tuple, CompiledContract] = {}
_cache_lock = threading.Lock()


def compiled(version_id, updated_at, input_contract: dict, output_spec: dict) -> CompiledContract:
    key = (version_id, updated_at)
    found = _cache.get(key)
    if found is None:
        found = CompiledContract(input_contract, output_spec)
        with _cache_lock:
            if len(_cache) > 512:
                _cache.clear()
            _cache[key] = found
    return found
