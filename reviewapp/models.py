"""Predictions as they arrived, the review items people work, decisions and outcomes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from models_registry.history import history_user


class PredictionStatus(models.TextChoices):
    AUTO_ACCEPTED = "auto_accepted", "Auto-accepted"
    IN_REVIEW = "in_review", "In review"
    DECIDED = "decided", "Decided"
    REJECTED = "rejected", "Rejected (contract)"
    SHADOW = "shadow", "Shadow (candidate version)"


class Prediction(models.Model):
    """One prediction exactly as a scoring service sent it, with how it was routed.

    Stored once per (model, external id): the unique constraint settles concurrent retries.
    Shadow predictions of a candidate version live beside production ones, once per
    (candidate version, external id), and are never routed, polled or decided.
    """

    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.PROTECT, related_name="predictions"
    )
    version = models.ForeignKey(
        "models_registry.ModelVersion", on_delete=models.PROTECT, related_name="predictions"
    )
    external_id = models.CharField(max_length=200)
    inputs = models.JSONField()
    output = models.JSONField(null=True)
    confidence = models.FloatField()
    value_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=PredictionStatus.choices)
    is_shadow = models.BooleanField(default=False, db_default=False)
    needs_review = models.BooleanField(default=False)
    routing_reasons = models.JSONField(default=list)
    contract_violations = models.JSONField(default=list)
    content_hash = models.CharField(
        max_length=64, help_text="SHA-256 of the normalised content, to recognise replays."
    )
    submitted_by_key = models.ForeignKey(
        "models_registry.ServiceKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "external_id"],
                condition=Q(is_shadow=False),
                name="prediction_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["version", "external_id"],
                condition=Q(is_shadow=True),
                name="shadow_prediction_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["model", "received_at"], name="prediction_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id}:{self.external_id}"


class ReviewItemStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    DECIDED = "decided", "Decided"


class ReviewStage(models.TextChoices):
    """Where an item is in its review: who may work it next."""

    REVIEW = "review", "First review"
    SECOND_REVIEW = "second_review", "Second review"
    ADJUDICATION = "adjudication", "Adjudication by the owner"
    ESCALATED = "escalated", "Escalated to the owner"


OWNER_STAGES = (ReviewStage.ADJUDICATION, ReviewStage.ESCALATED)


class ReviewItemQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=ReviewItemStatus.PENDING)

    def claimable(self, now=None):
        now = now or timezone.now()
        return self.open().filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))


class ReviewItem(models.Model):
    """A prediction waiting for a person, with its urgency and (later) its lease."""

    prediction = models.OneToOneField(
        Prediction, on_delete=models.PROTECT, related_name="review_item"
    )
    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.PROTECT, related_name="review_items"
    )
    status = models.CharField(
        max_length=16, choices=ReviewItemStatus.choices, default=ReviewItemStatus.PENDING
    )
    priority = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claimed_review_items",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current holder took it, for time-to-decide."
    )
    stage = models.CharField(max_length=16, choices=ReviewStage.choices, default=ReviewStage.REVIEW)
    required_reviews = models.PositiveSmallIntegerField(
        default=1, help_text="2 for two-person review; fixed at the first decision."
    )
    escalation_reason = models.TextField(blank=True)
    sla_breached_at = models.DateTimeField(
        null=True, blank=True, help_text="When the SLA sweep escalated it (once)."
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        indexes = [
            # The claim's two questions. Unclaimed items in queue order: a claimed item leaves
            # this index, so a claim never steps over the items others hold.
            models.Index(
                fields=["model", "-priority", "due_at"],
                condition=Q(status="pending", claimed_by__isnull=True),
                name="review_queue_order",
            ),
            # Held items by lease end: the few whose lease ran out are claimable again.
            models.Index(
                fields=["model", "lease_expires_at"],
                condition=Q(status="pending", claimed_by__isnull=False),
                name="review_queue_leases",
            ),
            # The SLA sweep's question: what is pending and past due?
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="review_due"),
        ]

    def __str__(self) -> str:
        return f"review of {self.prediction}"

    @property
    def owner_only(self) -> bool:
        return self.stage in OWNER_STAGES

    def lease_held_by(self, user, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.claimed_by_id == user.pk
            and self.lease_expires_at is not None
            and self.lease_expires_at > now
        )


class DecisionAction(models.TextChoices):
    APPROVE = "approve", "Approve"
    OVERRIDE = "override", "Override"
    REJECT = "reject", "Reject"
    FALLBACK = "fallback", "Fallback"


class Decision(models.Model):
    """The final answer on a prediction that went to review."""

    prediction = models.OneToOneField(Prediction, on_delete=models.PROTECT, related_name="decision")
    action = models.CharField(max_length=16, choices=DecisionAction.choices)
    final_output = models.JSONField(null=True)
    decided_by = models.JSONField(
        default=list, help_text="Everyone involved: usernames, or 'system'."
    )
    decided_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)
    reason = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.action} on {self.prediction}"


class ReviewActionKind(models.TextChoices):
    APPROVE = "approve", "Approve"
    OVERRIDE = "override", "Override"
    REJECT = "reject", "Reject"
    ESCALATE = "escalate", "Escalate"


class ReviewAction(models.Model):
    """What one person did on one item at one stage.

    Two-person review needs two of these from different people: the partial unique constraint
    makes the database refuse a second opinion from the same person, whatever the race.
    Reviewer figures (time to decide, override rate, agreement) are computed from these rows.
    """

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="actions")
    model = models.ForeignKey("models_registry.MLModel", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_actions"
    )
    stage = models.CharField(max_length=16, choices=ReviewStage.choices)
    action = models.CharField(max_length=16, choices=ReviewActionKind.choices)
    output = models.JSONField(null=True, blank=True, help_text="The output this person chose.")
    comment = models.TextField(blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "user"],
                condition=Q(stage__in=["review", "second_review"]),
                name="one_review_opinion_per_person",
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="review_action_user_time")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} item {self.item_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Dead (gave up)"


class WebhookDelivery(models.Model):
    """One event for a model's callback URL, retried until delivered or given up.

    The body is frozen when the event is created, so every attempt and every replay sends the
    same bytes under the same ``event_id``: receivers dedupe on it (at-least-once delivery).
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=64, default="prediction.decided")
    model = models.ForeignKey(
        "models_registry.MLModel", on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    prediction = models.ForeignKey(
        Prediction, on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    url = models.URLField()
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replayed_at = models.DateTimeField(
        null=True, blank=True, help_text="A replay starts a fresh retry window from here."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prediction", "event_type"], name="one_delivery_per_event"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="webhook_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why it could not."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt on {self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class Outcome(models.Model):
    """The ground truth for a prediction, reported later by the scoring service."""

    prediction = models.OneToOneField(Prediction, on_delete=models.PROTECT, related_name="outcome")
    actual = models.JSONField()
    observed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(get_user=history_user)

    def __str__(self) -> str:
        return f"outcome of {self.prediction}"
