"""Audit events in the admin: read-only for everyone, superusers included."""

from django.contrib import admin

from audit.models import AuditCheckpoint, AuditEvent, Export


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff may look; nobody adds, changes or deletes through the admin. Shared by every
    record that only services write (audit events, predictions, retraining requests)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "occurred_at",
        "action",
        "actor_label",
        "chain",
        "object_type",
        "object_id",
        "position",
    ]
    list_filter = ["action", "actor_type", "chain"]
    search_fields = ["object_id", "actor_label", "action"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False

    def get_queryset(self, request):
        # models_registry.admin imports this module: its scoping rule is imported late.
        from models_registry.admin import owned_models_q, sees_every_model

        queryset = super().get_queryset(request)
        if sees_every_model(request.user):
            return queryset
        return queryset.filter(owned_models_q(request.user, "model__"))


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["chain", "position", "head_seq", "head_hash", "sealed_count", "created_at"]
    list_filter = ["chain"]


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    """Exports are requested in the compliance UI, the API or the command line, never here."""

    list_display = [
        "id",
        "kind",
        "format",
        "status",
        "rows_done",
        "requested_by_label",
        "created_at",
    ]
    list_filter = ["kind", "format", "status"]

    def get_queryset(self, request):
        from models_registry import access

        return access.exports_visible_to(request.user)

    def has_module_permission(self, request):
        from models_registry import access

        return request.user.is_staff and access.is_compliance_officer(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)
