"""Audit events in the admin: read-only for everyone, superusers included."""

from django.contrib import admin

from audit.models import AuditCheckpoint, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
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
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        from models_registry.admin import owned_models_q

        return queryset.filter(owned_models_q(request.user, "model__"))


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["chain", "position", "head_seq", "head_hash", "sealed_count", "created_at"]
    list_filter = ["chain"]
