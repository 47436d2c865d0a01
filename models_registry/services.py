"""Writes to the registry: every change is audited in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_event_record
from models_registry import keys
from models_registry.authentication import forget_key
from models_registry.models import (
    MLModel,
    ModelVersion,
    RoutingPolicy,
    ServiceKey,
    ServiceKeyScope,
    VersionStatus,
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def snapshot(instance: models.Model, exclude: Iterable[str] = ("updated_at",)) -> dict:
    """The editable fields of a row as JSON-ready values, for before/after audit payloads."""
    data = model_to_dict(instance)
    return {k: _jsonable(v) for k, v in data.items() if k not in exclude}


def changes_between(before: dict, after: dict) -> dict:
    return {
        field: {"before": before.get(field), "after": after.get(field)}
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    }


def _secrets_masked(changes: dict) -> dict:
    """The audit trail is permanent and read by compliance: it may say that a webhook secret
    was set, changed or cleared, never what it is."""
    return {
        field: {side: "***" if value else value for side, value in change.items()}
        if field.endswith("_secret")
        else change
        for field, change in changes.items()
    }


def model_of(instance: models.Model) -> MLModel | None:
    if isinstance(instance, MLModel):
        return instance
    if isinstance(instance, ModelVersion):
        return instance.model
    if isinstance(instance, RoutingPolicy):
        return instance.version.model
    # Monitoring rows (alert rules, baselines' versions) belong to their model's chain too.
    related = getattr(instance, "model", None)
    return related if isinstance(related, MLModel) else None


def configuration_change_record(
    *, actor: Actor, instance: models.Model, before: dict | None, created: bool = False
) -> None:
    """Audit a configuration change with its before/after values (admin and services)."""
    after = snapshot(instance)
    changes = changes_between(before or {}, after)
    if not changes and not created:
        return
    kind = instance._meta.model_name
    action = {"mlmodel": "model", "modelversion": "version", "routingpolicy": "routing_policy"}.get(
        kind, kind
    )
    audit_event_record(
        action=f"{action}.{'created' if created else 'changed'}",
        actor=actor,
        object_type=instance._meta.label_lower,
        object_id=instance.pk,
        model=model_of(instance),
        payload={"object": str(instance), "changes": _secrets_masked(changes)},
    )


@transaction.atomic
def service_key_create(
    *,
    name: str,
    models: Iterable[MLModel],
    scopes: Iterable[str] = (ServiceKeyScope.INTAKE,),
    actor: Actor,
    created_by=None,
    secret: str | None = None,
) -> tuple[ServiceKey, str]:
    """Create a key and return it with its secret, which is never stored or shown again."""
    scopes = sorted(set(scopes))
    unknown = set(scopes) - set(ServiceKeyScope.values)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    models = list(models)
    secret = secret or keys.new_secret()
    key = ServiceKey.objects.create(
        name=name,
        prefix=keys.display_prefix(secret),
        key_hash=keys.hash_secret(secret),
        scopes=scopes,
        created_by=created_by,
    )
    key.ml_models.set(models)
    audit_event_record(
        action="service_key.created",
        actor=actor,
        object_type="models_registry.servicekey",
        object_id=key.pk,
        payload={
            "name": name,
            "prefix": key.prefix,
            "scopes": scopes,
            "models": sorted(m.slug for m in models),
        },
    )
    return key, secret


@transaction.atomic
def service_key_revoke(*, key: ServiceKey, actor: Actor) -> bool:
    """Revoke a key; revoking twice changes nothing and records nothing."""
    updated = ServiceKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        forget_key(key.key_hash)
        key.refresh_from_db()
        audit_event_record(
            action="service_key.revoked",
            actor=actor,
            object_type="models_registry.servicekey",
            object_id=key.pk,
            payload={"name": key.name, "prefix": key.prefix},
        )
    return bool(updated)


@transaction.atomic
def version_activate(*, version: ModelVersion, actor: Actor, reason: str = "") -> ModelVersion:
    """Make ``version`` the active one and retire the previous, in one transaction.

    The partial unique index allows one active version per model, so the old one is retired
    before the new one is activated; the model row lock serialises concurrent activations.
    """
    MLModel.objects.select_for_update().get(pk=version.model_id)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == VersionStatus.ACTIVE:
        return version
    previous = list(
        ModelVersion.objects.select_for_update().filter(
            model_id=version.model_id, status=VersionStatus.ACTIVE
        )
    )
    for old in previous:
        old.status = VersionStatus.RETIRED
        old.save(update_fields=["status", "updated_at"])
    version.status = VersionStatus.ACTIVE
    version.activated_at = timezone.now()
    version.save(update_fields=["status", "activated_at", "updated_at"])
    audit_event_record(
        action="version.activated",
        actor=actor,
        object_type="models_registry.modelversion",
        object_id=version.pk,
        model=version.model,
        payload={
            "version": version.label,
            "retired": [old.label for old in previous],
            "reason": reason,
        },
    )
    return version
