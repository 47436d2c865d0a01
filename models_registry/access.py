"""Who may see and do what: one selector per object kind, used by the UI, the API and the admin.

Roles are Django groups (created by audit/migrations/0006_roles, see docs/roles.md); a group
says what a kind of person may do at all, and the model's own fields (owner, backup owner,
reviewers, approvers) say on which models. Service keys have no groups: their models and
scopes are their whole authority.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from models_registry.authentication import ServicePrincipal
from models_registry.models import MLModel, ServiceKeyScope

ROLE_REVIEWER = "reviewer"
ROLE_OWNER = "model owner"
ROLE_APPROVER = "approver"
ROLE_COMPLIANCE = "compliance officer"
ROLE_ADMINISTRATOR = "administrator"
ROLES = (ROLE_REVIEWER, ROLE_OWNER, ROLE_APPROVER, ROLE_COMPLIANCE, ROLE_ADMINISTRATOR)

EXPORT_PERMISSION = "audit.export_audit_trail"
RAW_PII_PERMISSION = "audit.export_raw_pii"


def is_person(principal) -> bool:
    return (
        principal is not None
        and not isinstance(principal, ServicePrincipal)
        and principal.is_authenticated
        and principal.is_active
    )


def in_role(principal, role: str) -> bool:
    if not is_person(principal):
        return False
    return principal.groups.filter(name=role).exists()


def is_administrator(principal) -> bool:
    return is_person(principal) and (
        principal.is_superuser or in_role(principal, ROLE_ADMINISTRATOR)
    )


def is_compliance_officer(principal) -> bool:
    """Reads and exports everything, changes nothing."""
    return is_person(principal) and principal.has_perm(EXPORT_PERMISSION)


def membership_q(user, prefix: str = "") -> Q:
    """Models a person works on: owns, backs up, reviews or approves."""
    return (
        Q(**{f"{prefix}owner": user})
        | Q(**{f"{prefix}backup_owner": user})
        | Q(**{f"{prefix}reviewers": user})
        | Q(**{f"{prefix}approvers": user})
    )


# --- models -----------------------------------------------------------------------------------


def models_readable_by(principal) -> QuerySet[MLModel]:
    """Models a principal may read: a key's models; a person's own, backed-up, reviewed or
    approved models; every model for compliance officers and administrators."""
    models = MLModel.objects.select_related("owner", "backup_owner")
    if isinstance(principal, ServicePrincipal):
        return models.filter(service_keys=principal.key)
    if not is_person(principal):
        return models.none()
    if is_administrator(principal) or is_compliance_officer(principal):
        return models
    return models.filter(membership_q(principal)).distinct()


def models_operated_by(principal) -> QuerySet[MLModel]:
    """Models a principal may act on (send predictions, register versions): compliance officers
    read everything but act on nothing that is not theirs."""
    models = MLModel.objects.select_related("owner", "backup_owner")
    if isinstance(principal, ServicePrincipal):
        return models.filter(service_keys=principal.key)
    if not is_person(principal):
        return models.none()
    if is_administrator(principal):
        return models
    return models.filter(membership_q(principal)).distinct()


def models_administered_by(principal) -> QuerySet[MLModel]:
    """Models whose configuration a person may change in the admin: the ones they own or back
    up (all for administrators)."""
    models = MLModel.objects.all()
    if not is_person(principal):
        return models.none()
    if is_administrator(principal):
        return models
    return models.filter(Q(owner=principal) | Q(backup_owner=principal))


# --- exports ----------------------------------------------------------------------------------


def can_export(principal) -> bool:
    if isinstance(principal, ServicePrincipal):
        return principal.key.has_scope(ServiceKeyScope.EXPORT)
    return is_compliance_officer(principal)


def can_export_raw_pii(principal) -> bool:
    """Only a person, with the permission, and (checked by the service) a stated reason."""
    return is_person(principal) and principal.has_perm(RAW_PII_PERMISSION)


def exportable_models(principal) -> QuerySet[MLModel]:
    if not can_export(principal):
        return MLModel.objects.none()
    if isinstance(principal, ServicePrincipal):
        return MLModel.objects.filter(service_keys=principal.key)
    return MLModel.objects.all()


def exports_visible_to(principal):
    """Past exports: all of them for compliance officers; a key sees the ones it requested."""
    from audit.models import Export

    exports = Export.objects.select_related("requested_by", "requested_by_key")
    if isinstance(principal, ServicePrincipal):
        if not can_export(principal):
            return exports.none()
        return exports.filter(requested_by_key=principal.key)
    if is_compliance_officer(principal):
        return exports
    return exports.none()
