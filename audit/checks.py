"""Deployment checks (``manage.py check --deploy``) for what the audit trail's users rely on
long after today's settings: keys that outlive SECRET_KEY rotations, and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import connections


def _derived_from_secret_key(value: str, label: bytes) -> bool:
    derived = hmac.new(settings.SECRET_KEY.encode(), label, hashlib.sha256).hexdigest()
    return value in (derived, settings.SECRET_KEY)


@register(Tags.security, deploy=True)
def audit_keys_check(app_configs=None, **kwargs) -> list[Warning]:
    warnings = []
    if _derived_from_secret_key(settings.EXPORT_SIGNING_KEY, b"countersign export signing key"):
        warnings.append(
            Warning(
                "EXPORT_SIGNING_KEY is derived from SECRET_KEY.",
                hint="Set EXPORT_SIGNING_KEY to a secret of its own: auditors need it to verify "
                "manifests, and rotating SECRET_KEY would make every earlier export fail "
                "verification.",
                id="audit.W001",
            )
        )
    if settings.PII_HASH_KEY == settings.SECRET_KEY:
        warnings.append(
            Warning(
                "PII_HASH_KEY is SECRET_KEY.",
                hint="Set PII_HASH_KEY to a secret of its own: rotating SECRET_KEY would change "
                "every masked value, so exports before and after no longer match.",
                id="audit.W002",
            )
        )
    return warnings


@register(Tags.database, deploy=True)
def audit_database_check(app_configs=None, **kwargs) -> list[Warning]:
    if connections["default"].vendor == "postgresql":
        return []
    return [
        Warning(
            f"The database is {connections['default'].vendor}, the demo's database.",
            hint="Use PostgreSQL (DATABASE_URL=postgres://...): compliance exports refuse any "
            "other database, and only PostgreSQL claims review items with SKIP LOCKED.",
            id="audit.W003",
        )
    ]
