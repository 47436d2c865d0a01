"""Predictions as they arrived, the review items people work, decisions and outcomes."""

from __future__ import annotations

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
    is_shadow = models.BooleanField(default=False)
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

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["model", "-priority", "due_at"],
                condition=Q(status="pending"),
                name="review_queue_order",
            ),
        ]

    def __str__(self) -> str:
        return f"review of {self.prediction}"


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


class Outcome(models.Model):
    """The ground truth for a prediction, reported later by the scoring service."""

    prediction = models.OneToOneField(Prediction, on_delete=models.PROTECT, related_name="outcome")
    actual = models.JSONField()
    observed_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(get_user=history_user)

    def __str__(self) -> str:
        return f"outcome of {self.prediction}"
