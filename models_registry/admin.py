"""The owners' admin: each owner sees and edits only the models they own or back up.

Every save is also an audit event with before/after values (``configuration_change_record``);
simple-history's views show the field-level history of each object.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Q
from simple_history.admin import SimpleHistoryAdmin

from audit.actors import Actor
from audit.admin import ReadOnlyAdmin
from models_registry import access
from models_registry.models import MLModel, ModelVersion, RoutingPolicy, ServiceKey
from models_registry.services import (
    configuration_change_record,
    service_key_revoke,
    snapshot,
)


def owned_models_q(user, prefix: str = "") -> Q:
    return Q(**{f"{prefix}owner": user}) | Q(**{f"{prefix}backup_owner": user})


class AuditedAdminMixin:
    """Records each admin save as an audit event in the same transaction as the change."""

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            before = snapshot(type(obj).objects.get(pk=obj.pk))
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            configuration_change_record(
                actor=Actor.user(request.user), instance=obj, before=before, created=not change
            )

    def save_formset(self, request, form, formset, change):
        befores = {
            f.instance.pk: snapshot(type(f.instance).objects.get(pk=f.instance.pk))
            for f in formset.forms
            if f.instance.pk and f.has_changed()
        }
        with transaction.atomic():
            instances = formset.save()
            for instance in instances:
                configuration_change_record(
                    actor=Actor.user(request.user),
                    instance=instance,
                    before=befores.get(instance.pk),
                    created=instance.pk not in befores,
                )


def sees_every_model(user) -> bool:
    """Administrators and compliance officers see every model's records in the admin; anyone
    else the records of the models they own or back up (docs/roles.md)."""
    return access.is_administrator(user) or access.is_compliance_officer(user)


class OwnerScopedReadOnlyAdmin(ReadOnlyAdmin):
    """Records only services write, for the staff who may see them: an owner those of the
    models they own or back up (reached through ``owner_path``), administrators and compliance
    officers all of them."""

    owner_path = "model__"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if sees_every_model(request.user):
            return queryset
        return queryset.filter(owned_models_q(request.user, self.owner_path))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.concrete_fields]


class OwnerScopedAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """An owner sees and edits only what hangs off the models they own or back up;
    administrators everything; compliance officers see everything and change nothing.

    Object-level checks go through the same queryset, so a typed-in URL of someone else's
    object is refused like a hidden one (docs/roles.md).
    """

    owner_path = ""

    def _everything_visible(self, request) -> bool:
        return sees_every_model(request.user)

    def _owned(self, request, queryset):
        if access.is_administrator(request.user):
            return queryset
        return queryset.filter(owned_models_q(request.user, self.owner_path)).distinct()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._everything_visible(request):
            return queryset
        return self._owned(request, queryset)

    def _is_staff(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def _may_change(self, request, obj) -> bool:
        if not self._is_staff(request):
            return False
        if access.is_administrator(request.user):
            return True
        if obj is None:
            return access.models_administered_by(request.user).exists() or request.user.has_perm(
                "models_registry.add_mlmodel"
            )
        return self._owned(request, type(obj).objects.filter(pk=obj.pk)).exists()

    def has_module_permission(self, request):
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None):
        if not self._is_staff(request):
            return False
        if obj is None or self._everything_visible(request):
            return True
        return self._owned(request, type(obj).objects.filter(pk=obj.pk)).exists()

    def has_change_permission(self, request, obj=None):
        return self._may_change(request, obj)

    def has_add_permission(self, request):
        return self._may_change(request, None)

    def has_delete_permission(self, request, obj=None):
        # Models, versions and keys are referenced by predictions and the audit trail:
        # retire or revoke them instead.
        return False


class RoutingPolicyInline(admin.StackedInline):
    """Follows its version's admin: editable by the version's owners, read-only otherwise."""

    model = RoutingPolicy
    can_delete = False
    extra = 1
    max_num = 1

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None):
        if not (request.user.is_active and request.user.is_staff):
            return False
        administered = access.models_administered_by(request.user)
        if obj is None:
            return administered.exists()
        return administered.filter(pk=obj.model_id).exists()

    def has_add_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)


@admin.register(MLModel)
class MLModelAdmin(OwnerScopedAdmin):
    list_display = ["slug", "name", "owner", "backup_owner", "required_signoffs", "updated_at"]
    search_fields = ["slug", "name"]
    owner_path = ""

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "created_at", "updated_at"] if obj else ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Every model is watched from its first day: default alert rules come with it.
        from models_registry.monitoring.alerts import alert_rules_ensure_defaults

        alert_rules_ensure_defaults(model=obj, actor=Actor.user(request.user))

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not request.user.is_superuser and "owner" in form.base_fields and obj is None:
            form.base_fields["owner"].initial = request.user.pk
        return form


@admin.register(ModelVersion)
class ModelVersionAdmin(OwnerScopedAdmin):
    list_display = ["__str__", "status", "created_at", "activated_at"]
    list_filter = ["status", "model"]
    search_fields = ["label", "model__slug"]
    readonly_fields = ["status", "activated_at", "created_at", "updated_at", "registered_by"]
    inlines = [RoutingPolicyInline]
    owner_path = "model__"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "model" and not access.is_administrator(request.user):
            kwargs["queryset"] = access.models_administered_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.registered_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ServiceKey)
class ServiceKeyAdmin(OwnerScopedAdmin):
    list_display = ["name", "prefix", "scopes", "created_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "revoked_at", "last_used_at"]
    fields = ["name", "ml_models", "scopes", *readonly_fields]
    actions = ["revoke"]
    owner_path = "ml_models__"

    def has_add_permission(self, request):
        # The secret is shown once, on the command line: manage.py create_service_key.
        return False

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "ml_models" and not access.is_administrator(request.user):
            kwargs["queryset"] = access.models_administered_by(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = sum(
            service_key_revoke(key=key, actor=Actor.user(request.user)) for key in queryset
        )
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


# --- Monitoring ---

from django import forms  # noqa: E402
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError  # noqa: E402

from models_registry.models import (  # noqa: E402
    Alert,
    AlertNotification,
    AlertRule,
    AlertStatus,
    Baseline,
)
from models_registry.monitoring.alerts import (  # noqa: E402
    AlertStateError,
    NotificationReplayError,
    alert_acknowledge,
    alert_notification_replay,
    alert_resolve,
)
from models_registry.monitoring.baseline import (  # noqa: E402
    BaselineError,
    baseline_upload,
    prepare_baseline,
    read_table,
)


class AlertRuleListForm(forms.ModelForm):
    """The list's "enabled" box edits one field, but the rule's own checks still run (a webhook
    URL without a secret): show their errors on the row instead of failing on a field the row
    does not have."""

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            moved: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                moved.setdefault(field if field in self.fields else NON_FIELD_ERRORS, []).extend(
                    messages
                )
            errors = ValidationError(moved)
        super()._update_errors(errors)


@admin.register(AlertRule)
class AlertRuleAdmin(OwnerScopedAdmin):
    list_display = [
        "name",
        "model",
        "metric",
        "comparison",
        "threshold",
        "window_seconds",
        "min_sample_size",
        "enabled",
        "opens_retraining",
    ]
    list_filter = ["enabled", "metric", "model"]
    list_editable = ["enabled"]
    search_fields = ["name", "model__slug"]
    readonly_fields = ["is_default", "created_at", "updated_at"]
    owner_path = "model__"

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", AlertRuleListForm)
        return super().get_changelist_form(request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "model" and not request.user.is_superuser:
            kwargs["queryset"] = MLModel.objects.filter(owned_models_q(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Alert)
class AlertAdmin(OwnerScopedAdmin):
    list_display = ["rule", "model", "status", "value", "sample_size", "opened_at", "escalated_at"]
    list_filter = ["status", "model"]
    actions = ["acknowledge", "resolve"]
    owner_path = "model__"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        done = 0
        for alert in queryset.filter(status=AlertStatus.OPEN):
            alert_acknowledge(alert=alert, user=request.user)
            done += 1
        self.message_user(request, f"Acknowledged {done} alert(s).", messages.SUCCESS)

    @admin.action(description="Resolve the selected alerts")
    def resolve(self, request, queryset):
        done = 0
        for alert in queryset.exclude(status=AlertStatus.RESOLVED):
            try:
                alert_resolve(alert=alert, user=request.user, note="Resolved in the admin.")
                done += 1
            except AlertStateError:
                continue
        self.message_user(request, f"Resolved {done} alert(s).", messages.SUCCESS)


@admin.register(AlertNotification)
class AlertNotificationAdmin(OwnerScopedReadOnlyAdmin):
    """Read-only: only the delivery task writes these rows. A webhook that failed, or that its
    receiver lost, is replayed from here through the service, which audits it."""

    list_display = [
        "__str__",
        "alert",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "sent_at",
        "event_id",
    ]
    list_filter = ["status", "channel", "event"]
    search_fields = ["event_id", "recipient", "alert__model__slug"]
    actions = ["replay"]
    owner_path = "alert__model__"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("alert", "alert__model", "alert__rule")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_replay_permission(self, request) -> bool:
        return access.models_administered_by(request.user).exists()

    @admin.action(description="Replay the selected webhook notifications", permissions=["replay"])
    def replay(self, request, queryset):
        # Compliance officers see every model's notifications but change nothing.
        mine = queryset.filter(alert__model__in=access.models_administered_by(request.user))
        replayed = 0
        for notification in mine:
            try:
                alert_notification_replay(notification=notification, user=request.user)
                replayed += 1
            except NotificationReplayError:
                continue
        self.message_user(request, f"Replayed {replayed} notification(s).", messages.SUCCESS)
        if replayed < queryset.count():
            self.message_user(
                request,
                f"{queryset.count() - replayed} left as they were: only sent or failed webhooks "
                "of models you own or back up can be replayed.",
                messages.WARNING,
            )


class BaselineUploadForm(forms.ModelForm):
    file = forms.FileField(
        help_text="CSV (with a header row) or Parquet; optional `output` column."
    )

    class Meta:
        model = Baseline
        fields = ["version"]

    def clean(self):
        cleaned = super().clean()
        upload, version = cleaned.get("file"), cleaned.get("version")
        if upload is None or version is None:
            return cleaned
        content = upload.read()
        try:
            prepare_baseline(read_table(content, upload.name), version)
        except BaselineError as error:
            raise ValidationError(
                {"file" if error.field == "file" else None: error.message}
            ) from error
        cleaned["content"] = content
        return cleaned


@admin.register(Baseline)
class BaselineAdmin(OwnerScopedAdmin):
    """Upload through the admin; a stored baseline is never edited, a new one supersedes it."""

    list_display = ["__str__", "row_count", "sample_row_count", "violations", "created_at"]
    list_filter = ["version__model"]
    owner_path = "version__model__"
    form = BaselineUploadForm

    def get_queryset(self, request):
        return super().get_queryset(request).defer("sample_parquet")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["version", "file"]
        return [
            "version",
            "file_name",
            "file_sha256",
            "row_count",
            "sample_row_count",
            "contract_report",
            "profile",
            "uploaded_by",
            "uploaded_by_key",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "version" and not request.user.is_superuser:
            kwargs["queryset"] = ModelVersion.objects.filter(
                owned_models_q(request.user, "model__")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="rows with violations")
    def violations(self, obj):
        return obj.contract_report.get("rows_with_violations", 0)

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data["file"]
        created = baseline_upload(
            version=form.cleaned_data["version"],
            content=form.cleaned_data["content"],
            file_name=upload.name,
            actor=Actor.user(request.user),
            uploaded_by=request.user,
        )
        # The admin redirects to the object it saved: hand it the row the service made.
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
        obj._state.adding = False
        report = created.contract_report
        if report["rows_with_violations"]:
            self.message_user(
                request,
                f"{report['rows_with_violations']} row(s) broke the contract: "
                + ", ".join(f"{c} ({e['count']})" for c, e in report["violations"].items())
                + ". Those values were left out of the profile.",
                messages.WARNING,
            )


# --- Retraining ---

from django.urls import reverse  # noqa: E402
from django.utils.html import format_html  # noqa: E402

from models_registry.models import (  # noqa: E402
    RetrainingPolicy,
    RetrainingRequest,
    SignOff,
)


@admin.register(RetrainingPolicy)
class RetrainingPolicyAdmin(OwnerScopedAdmin):
    """The owner's validation gates and who may request retraining; audited like the rest."""

    list_display = ["model", "min_metrics", "max_metric_drop", "min_shadow_accuracy"]
    filter_horizontal = ["requesters"]
    owner_path = "model__"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "model" and not request.user.is_superuser:
            kwargs["queryset"] = MLModel.objects.filter(owned_models_q(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SignOffInline(admin.TabularInline):
    model = SignOff
    extra = 0
    can_delete = False
    fields = readonly_fields = ["user", "decision", "comment", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RetrainingRequest)
class RetrainingRequestAdmin(OwnerScopedReadOnlyAdmin):
    """Read-only: transitions happen on the request's page and through the services, where
    they are checked and audited."""

    list_display = ["__str__", "status", "requested_by_label", "candidate", "created_at", "page"]
    list_filter = ["status", "model"]
    search_fields = ["model__slug", "reason"]
    inlines = [SignOffInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model", "candidate")

    @admin.display(description="Page")
    def page(self, obj):
        return format_html('<a href="{}">open</a>', reverse("retraining-request", args=[obj.pk]))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff
