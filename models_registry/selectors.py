"""Reads of the registry, and the one place that decides who may see which model."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from models_registry import access
from models_registry.authentication import ServicePrincipal
from models_registry.models import MLModel, ModelVersion, ServiceKeyScope, VersionStatus


def models_visible_to(principal) -> QuerySet[MLModel]:
    """Models a service key is scoped to, or a person owns, backs up, reviews or approves
    (all of them for superusers, administrators and compliance officers; see access.py)."""
    return access.models_readable_by(principal)


def model_for_request(principal, slug: str, *, scope: str | None = None) -> MLModel:
    """The model named in a URL, or the API error a caller should get.

    Unknown slug: 404. Known but not the caller's, or the key lacks ``scope``: 403.
    """
    if isinstance(principal, ServicePrincipal):
        # The key's models came with it from authentication: the common case costs no query.
        model = next((m for m in principal.key.ml_models.all() if m.slug == slug), None)
        if model is not None:
            if scope and not principal.key.has_scope(scope):
                raise PermissionDenied(f"This service key lacks the '{scope}' scope.")
            return model
        if not MLModel.objects.filter(slug=slug).exists():
            raise NotFound(f"No model with slug '{slug}'.")
        raise PermissionDenied(f"You may not use model '{slug}'.")
    model = MLModel.objects.filter(slug=slug).select_related("owner", "backup_owner").first()
    if model is None:
        raise NotFound(f"No model with slug '{slug}'.")
    if scope == ServiceKeyScope.EXPORT:
        allowed = access.exportable_models(principal).filter(pk=model.pk).exists()
    elif scope in (ServiceKeyScope.INTAKE, ServiceKeyScope.PIPELINE):
        # Acting on a model needs membership; a compliance officer only reads.
        allowed = access.models_operated_by(principal).filter(pk=model.pk).exists()
    else:
        allowed = models_visible_to(principal).filter(pk=model.pk).exists()
    if not allowed:
        raise PermissionDenied(f"You may not use model '{slug}'.")
    return model


def active_versions_for(models) -> dict[int, ModelVersion]:
    versions = ModelVersion.objects.filter(
        model__in=models, status=VersionStatus.ACTIVE
    ).select_related("routing_policy")
    return {v.model_id: v for v in versions}
