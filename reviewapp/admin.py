from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from models_registry.admin import owned_models_q
from reviewapp.models import Outcome, Prediction, ReviewItem


class OwnerScopedReadOnly(admin.ModelAdmin):
    owner_path = "model__"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(owned_models_q(request.user, self.owner_path))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff


@admin.register(Prediction)
class PredictionAdmin(OwnerScopedReadOnly):
    list_display = [
        "external_id",
        "model",
        "version",
        "status",
        "confidence",
        "value_amount",
        "received_at",
    ]
    list_filter = ["status", "model"]
    search_fields = ["external_id"]
    date_hierarchy = "received_at"
    show_full_result_count = False


@admin.register(ReviewItem)
class ReviewItemAdmin(OwnerScopedReadOnly):
    list_display = ["prediction", "model", "status", "priority", "due_at", "claimed_by"]
    list_filter = ["status", "model"]


@admin.register(Outcome)
class OutcomeAdmin(OwnerScopedReadOnly, SimpleHistoryAdmin):
    owner_path = "prediction__model__"
    list_display = ["prediction", "actual", "observed_at", "recorded_at"]
