"""The manifest beside each export file, and its HMAC-SHA256 signature.

The signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of every manifest field
except ``signature`` itself, keyed with EXPORT_SIGNING_KEY. Anyone holding the key can check,
without our server, that neither the manifest nor (through its ``sha256``) the file changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from audit.exports.columns import canonical_json

SCHEMA = "countersign-export/1"
MANIFEST_SUFFIX = ".manifest.json"


def manifest_path_for(file_path: Path) -> Path:
    return Path(f"{file_path}{MANIFEST_SUFFIX}")


def signature_of(manifest: dict[str, Any], key: str) -> str:
    body = {name: value for name, value in manifest.items() if name != "signature"}
    return hmac.new(key.encode(), canonical_json(body).encode(), hashlib.sha256).hexdigest()


def signature_ok(manifest: dict[str, Any], key: str) -> bool:
    given = manifest.get("signature")
    return isinstance(given, str) and hmac.compare_digest(given, signature_of(manifest, key))


def manifest_sign(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    signed = {name: value for name, value in manifest.items() if name != "signature"}
    signed["signature"] = signature_of(signed, key)
    return signed


def manifest_write(path: Path, manifest: dict[str, Any]) -> None:
    Path(path).write_text(
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def manifest_read(path: Path) -> dict[str, Any]:
    """The manifest as a dict; ValueError with a readable message if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read the manifest {path}: {error.strerror or error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the manifest {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"the manifest {path} is not a JSON object")
    return data
