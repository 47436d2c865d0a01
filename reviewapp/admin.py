from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from models_registry import access
from models_registry.admin import OwnerScopedReadOnlyAdmin
from reviewapp.models import Outcome, Prediction, ReviewItem


@admin.register(Prediction)
class PredictionAdmin(OwnerScopedReadOnlyAdmin):
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
class ReviewItemAdmin(OwnerScopedReadOnlyAdmin):
    list_display = ["prediction", "model", "status", "priority", "due_at", "claimed_by"]
    list_filter = ["status", "model"]


@admin.register(Outcome)
class OutcomeAdmin(OwnerScopedReadOnlyAdmin, SimpleHistoryAdmin):
    owner_path = "prediction__model__"
    list_display = ["prediction", "actual", "observed_at", "recorded_at"]


# --- The review queue: per-person actions and webhook deliveries (owners see their own) ----

from django.contrib import messages as admin_messages  # noqa: E402

from reviewapp.models import ReviewAction, WebhookAttempt, WebhookDelivery  # noqa: E402
from reviewapp.services.webhooks import webhook_delivery_replay  # noqa: E402


@admin.register(ReviewAction)
class ReviewActionAdmin(OwnerScopedReadOnlyAdmin):
    list_display = ["item", "model", "user", "stage", "action", "created_at"]
    list_filter = ["stage", "action", "model"]
    date_hierarchy = "created_at"


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OwnerScopedReadOnlyAdmin):
    list_display = [
        "event_id",
        "model",
        "prediction",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "model"]
    search_fields = ["event_id", "prediction__external_id"]
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    def has_replay_permission(self, request) -> bool:
        return access.models_administered_by(request.user).exists()

    @admin.action(
        description="Replay the selected deliveries (same event id)", permissions=["replay"]
    )
    def replay(self, request, queryset):
        # Compliance officers see every model's deliveries but change nothing.
        mine = queryset.filter(model__in=access.models_administered_by(request.user))
        for delivery in mine:
            webhook_delivery_replay(delivery=delivery, user=request.user)
        self.message_user(
            request, f"{len(mine)} delivery(ies) will be sent again.", admin_messages.SUCCESS
        )
