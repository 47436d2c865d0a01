"""Registered models, their versions, routing policies and the service keys that call them.

Single-row rules live here (a contract must be a valid JSON Schema, one active version per
model); anything that writes several rows or an audit event lives in ``services.py``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from models_registry import contracts
from models_registry.history import history_user


class MLModel(models.Model):
    """A model in production, owned by one named person."""

    slug = models.SlugField(
        max_length=64,
        unique=True,
        help_text="Stable identifier used in API paths and audit chains; cannot change.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_models",
        help_text="The one person answerable for this model in production.",
    )
    backup_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="backed_up_models",
        null=True,
        blank=True,
    )
    required_signoffs = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Approvals from different people needed before a new version goes live.",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="reviewable_models",
        blank=True,
        help_text="People who may work this model's review queue (the owners may too).",
    )
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="approvable_models",
        blank=True,
        help_text="People, besides the owners, who may sign off a new version.",
    )
    lease_seconds = models.PositiveIntegerField(
        default=600, help_text="How long a reviewer holds a claimed item before it returns."
    )
    alert_escalation_seconds = models.PositiveIntegerField(
        default=3600,
        help_text="An alert not acknowledged within this time goes to the backup owner.",
    )
    review_hourly_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("60.00"),
        help_text="Cost of one reviewer hour, for the review economics dashboard.",
    )
    callback_url = models.URLField(
        blank=True, help_text="Where final decisions are POSTed (signed) for the scoring service."
    )
    callback_secret = models.CharField(max_length=200, blank=True)
    pipeline_webhook_url = models.URLField(
        blank=True, help_text="Where retraining requests are POSTed for the training pipeline."
    )
    pipeline_webhook_secret = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Secrets stay out of the history tables, which everyone who reads history can read; the
    # audit trail says when one changed (masked), and a revert keeps the current secret.
    history = HistoricalRecords(
        get_user=history_user, excluded_fields=["callback_secret", "pipeline_webhook_secret"]
    )

    class Meta:
        ordering = ["slug"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        if self.backup_owner_id and self.backup_owner_id == self.owner_id:
            raise ValidationError({"backup_owner": "The backup owner must be another person."})

    @property
    def active_version(self) -> ModelVersion | None:
        return self.versions.filter(status=VersionStatus.ACTIVE).first()


class VersionStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersion(models.Model):
    """One trained artefact of a model, with the contract its inputs must meet."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="versions")
    label = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.CANDIDATE
    )
    input_contract = models.JSONField(
        default=contracts.empty_object_schema,
        blank=True,
        help_text="JSON Schema (draft 2020-12) for the prediction's inputs.",
    )
    output_spec = models.JSONField(
        default=dict,
        blank=True,
        help_text="JSON Schema (draft 2020-12) for the model's output, e.g. allowed labels.",
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation metrics.")
    artifact_uri = models.CharField(max_length=500, blank=True)
    training_data_ref = models.CharField(max_length=500, blank=True)
    code_version = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True, help_text="Model card notes.")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="registered_versions",
        null=True,
        blank=True,
    )
    registered_by_key = models.ForeignKey(
        "models_registry.ServiceKey",
        on_delete=models.PROTECT,
        related_name="registered_versions",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(get_user=history_user)

    class Meta:
        ordering = ["model", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["model", "label"], name="version_label_unique"),
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status="active"),
                name="one_active_version_per_model",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug}@{self.label}"

    def save(self, *args, **kwargs):
        # The admin calls clean(); services and shells may not. An invalid contract would
        # make every later prediction fail, so it is refused at the last possible moment too.
        for field in ("input_contract", "output_spec"):
            problem = contracts.schema_problem(getattr(self, field))
            if problem:
                raise ValidationError(
                    {field: f"Not a valid JSON Schema (draft 2020-12): {problem}"}
                )
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        for field in ("input_contract", "output_spec"):
            problem = contracts.schema_problem(getattr(self, field))
            if problem:
                errors[field] = f"Not a valid JSON Schema (draft 2020-12): {problem}"
        if errors:
            raise ValidationError(errors)

    @property
    def validator(self) -> contracts.CompiledContract:
        """The compiled input and output validators, built once per version per process."""
        return contracts.compiled(self.pk, self.updated_at, self.input_contract, self.output_spec)


ROUTING_RULES = ("contract_violation", "high_value", "low_confidence", "random_sample")


class OnContractViolation(models.TextChoices):
    REVIEW = "review", "Store and send to review"
    REJECT = "reject", "Store as rejected and answer 422"


class RoutingPolicy(models.Model):
    """When a prediction of this version goes to a person, and how urgently."""

    version = models.OneToOneField(
        ModelVersion, on_delete=models.CASCADE, related_name="routing_policy"
    )
    confidence_threshold = models.FloatField(
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A confidence below this goes to review; equal to it does not.",
    )
    value_threshold = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="A value_amount at or above this goes to review. Empty: no value rule.",
    )
    sample_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of otherwise auto-accepted predictions sent to review as an audit "
        "sample, decided from a hash of the external id so a replay routes the same way.",
    )
    on_contract_violation = models.CharField(
        max_length=16, choices=OnContractViolation.choices, default=OnContractViolation.REVIEW
    )
    high_value_priority = models.PositiveSmallIntegerField(default=100)
    contract_violation_priority = models.PositiveSmallIntegerField(default=60)
    low_confidence_priority = models.PositiveSmallIntegerField(default=50)
    random_sample_priority = models.PositiveSmallIntegerField(default=10)
    sla_seconds = models.PositiveIntegerField(
        default=4 * 3600, help_text="How long a review item may wait before it is overdue."
    )
    second_review_value_threshold = models.DecimalField(
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="A value_amount at or above this needs two decisions from two people.",
    )
    two_person_review_rules = models.JSONField(
        default=list,
        blank=True,
        help_text="Routing rules whose items need two decisions from two people whatever "
        'their value, e.g. ["contract_violation"]. Allowed: ' + ", ".join(ROUTING_RULES) + ".",
    )
    on_sla_breach = models.CharField(
        max_length=32,
        choices=[
            ("escalate", "Escalate to the owner only"),
            ("accept_model_output", "Accept the model's output"),
            ("reject", "Reject the prediction"),
        ],
        default="escalate",
        help_text="What happens to an item past its due time, besides escalation.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(get_user=history_user)

    class Meta:
        verbose_name_plural = "routing policies"

    def __str__(self) -> str:
        return f"routing policy of {self.version}"

    def clean(self) -> None:
        rules = self.two_person_review_rules
        if not isinstance(rules, list) or not set(rules) <= set(ROUTING_RULES):
            raise ValidationError(
                {
                    "two_person_review_rules": "A list of rule names from: "
                    + ", ".join(ROUTING_RULES)
                    + "."
                }
            )

    def as_api_dict(self) -> dict:
        return {
            "confidence_threshold": self.confidence_threshold,
            "value_threshold": None if self.value_threshold is None else str(self.value_threshold),
            "sample_rate": self.sample_rate,
            "on_contract_violation": self.on_contract_violation,
            "priority": {
                "high_value": self.high_value_priority,
                "contract_violation": self.contract_violation_priority,
                "low_confidence": self.low_confidence_priority,
                "random_sample": self.random_sample_priority,
            },
            "sla_seconds": self.sla_seconds,
            "second_review_value_threshold": None
            if self.second_review_value_threshold is None
            else str(self.second_review_value_threshold),
            "two_person_review_rules": self.two_person_review_rules,
            "on_sla_breach": self.on_sla_breach,
        }

    @property
    def value_threshold_decimal(self) -> Decimal | None:
        return self.value_threshold


class ServiceKeyScope(models.TextChoices):
    INTAKE = "intake", "Send predictions and outcomes"
    PIPELINE = "pipeline", "Register candidate versions and baselines"
    EXPORT = "export", "Export the audit trail"


class ServiceKeyQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)


class ServiceKey(models.Model):
    """A credential for a program. Only a SHA-256 of the secret is kept."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, to recognise the key."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    ml_models = models.ManyToManyField(MLModel, related_name="service_keys", verbose_name="models")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(m2m_fields=[ml_models], get_user=history_user)

    objects = ServiceKeyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


# --- Monitoring ---


class Baseline(models.Model):
    """A profile of a version's training data, and the bounded sample the drift tests need.

    The uploaded file itself is not kept: a per-feature profile (for people) and a sample of at
    most ``MONITORING_BASELINE_SAMPLE_ROWS`` rows as Parquet (for the statistical tests) are.
    The newest baseline of a version is the one snapshots compare against.
    """

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="baselines")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    sample_row_count = models.PositiveIntegerField()
    profile = models.JSONField(help_text="Per feature: type, count, missing rate, distribution.")
    contract_report = models.JSONField(
        default=dict, help_text="Contract violations found in the file, per column."
    )
    sample_parquet = models.BinaryField(editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    uploaded_by_key = models.ForeignKey(
        ServiceKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "-created_at"], name="baseline_version_latest")]

    def __str__(self) -> str:
        return f"baseline of {self.version} ({self.file_name})"


class SnapshotWindow(models.TextChoices):
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"


WINDOW_SECONDS = {SnapshotWindow.HOURLY: 3600, SnapshotWindow.DAILY: 86400}


class MonitoringSnapshot(models.Model):
    """What one closed window of one model looked like. Written once, never replaced."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="snapshots")
    version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="snapshots"
    )
    baseline = models.ForeignKey(
        Baseline, on_delete=models.PROTECT, null=True, blank=True, related_name="snapshots"
    )
    window = models.CharField(max_length=16, choices=SnapshotWindow.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    computed_at = models.DateTimeField(auto_now_add=True)
    prediction_count = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict)
    drift = models.JSONField(default=dict)
    drift_share = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["model", "window", "-window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "window", "window_start"], name="snapshot_once_per_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug} {self.window} {self.window_start:%Y-%m-%d %H:%M}"


class AlertMetric(models.TextChoices):
    ACCURACY_OUTCOMES = "accuracy_outcomes", "Accuracy against outcomes"
    ACCURACY_DECISIONS = "accuracy_decisions", "Accuracy against human decisions"
    MAE_OUTCOMES = "mae_outcomes", "Mean absolute error against outcomes"
    DRIFT_SHARE = "drift_share", "Share of drifted features"
    CONTRACT_VIOLATION_RATE = "contract_violation_rate", "Contract-violation rate"
    OVERRIDE_RATE = "override_rate", "Override rate (people disagree with the model)"
    LOW_CONFIDENCE_SHARE = "low_confidence_share", "Share under the confidence threshold"
    PREDICTION_VOLUME = "prediction_volume", "Prediction volume"


class Comparison(models.TextChoices):
    LT = "lt", "<"
    LTE = "lte", "≤"
    GT = "gt", ">"
    GTE = "gte", "≥"


class AlertRule(models.Model):
    """When a model counts as degraded: ``metric comparison threshold`` over a window."""

    model = models.ForeignKey(MLModel, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=32, choices=AlertMetric.choices)
    comparison = models.CharField(max_length=4, choices=Comparison.choices)
    threshold = models.FloatField()
    window_seconds = models.PositiveIntegerField(
        default=86400, validators=[MinValueValidator(60)], help_text="How far back to look."
    )
    min_sample_size = models.PositiveIntegerField(
        default=0,
        help_text="Below this many observations the rule neither fires nor resolves.",
    )
    enabled = models.BooleanField(default=True)
    opens_retraining = models.BooleanField(
        default=False, help_text="When this rule fires, open a retraining request."
    )
    webhook_url = models.URLField(
        blank=True, help_text="Optional: also POST each alert of this rule here (JSON)."
    )
    webhook_secret = models.CharField(
        max_length=200,
        blank=True,
        help_text="Signs each webhook POST (Countersign-Signature, as decision callbacks); "
        "required with a webhook URL.",
    )
    is_default = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["webhook_secret"])  # as MLModel's secrets

    class Meta:
        ordering = ["model", "name"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="alert_rule_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.model.slug}: {self.name}"

    def clean(self):
        super().clean()
        # Receivers act on alerts (page someone, halt a model): they must be able to tell
        # ours from a forgery. Rules saved before secrets existed still send, unsigned.
        if self.webhook_url and not self.webhook_secret:
            raise ValidationError(
                {"webhook_secret": "A rule with a webhook URL needs a secret to sign with."}
            )

    def breached_by(self, value: float) -> bool:
        return {
            Comparison.LT: value < self.threshold,
            Comparison.LTE: value <= self.threshold,
            Comparison.GT: value > self.threshold,
            Comparison.GTE: value >= self.threshold,
        }[self.comparison]

    @property
    def condition(self) -> str:
        return f"{self.metric} {self.get_comparison_display()} {self.threshold:g}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """A rule that fired. At most one unresolved alert per rule (enforced by the database)."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.PROTECT, related_name="alerts")
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    summary = models.TextField(help_text="What triggered the alert, with the numbers.")
    value = models.FloatField()
    threshold = models.FloatField()
    sample_size = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict)
    opened_at = models.DateTimeField()
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=~Q(status="resolved"),
                name="one_unresolved_alert_per_rule",
            ),
        ]
        indexes = [models.Index(fields=["model", "status"], name="alert_model_status")]

    def __str__(self) -> str:
        return f"alert on {self.model.slug}: {self.rule.name}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


ALERT_DELIVERY_ATTEMPTS = 5


class AlertNotification(models.Model):
    """One message about an alert to one recipient; the row is the delivery's work queue."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=16, help_text="opened, escalated or resolved")
    channel = models.CharField(max_length=16, choices=[("email", "Email"), ("webhook", "Webhook")])
    recipient = models.CharField(max_length=500)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    event_id = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Sent as Countersign-Event-Id; the same on every retry and replay.",
    )
    payload = models.JSONField(
        default=dict,
        blank=True,
        help_text="What is sent, fixed when the notification is created: the webhook body, or "
        "the e-mail's subject and body. Empty only on rows older than this field, which get "
        "theirs at their first attempt.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    attempt_limit = models.PositiveSmallIntegerField(
        default=ALERT_DELIVERY_ATTEMPTS,
        help_text="Attempts allowed before the notification is failed; a replay allows one more.",
    )
    last_status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The HTTP status of the last webhook attempt."
    )
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "event", "channel", "recipient"], name="notification_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notification_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} ({self.event})"


# --- Retraining ---


class RetrainingStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    TRAINING = "training", "Training"
    CANDIDATE_REGISTERED = "candidate_registered", "Candidate registered"
    VALIDATING = "validating", "Validating"
    AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting sign-off"
    APPROVED = "approved", "Approved"
    PROMOTED = "promoted", "Promoted"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed validation"
    CANCELLED = "cancelled", "Cancelled"


RETRAINING_CLOSED_STATUSES = (
    RetrainingStatus.PROMOTED,
    RetrainingStatus.REJECTED,
    RetrainingStatus.FAILED,
    RetrainingStatus.CANCELLED,
)
RETRAINING_OPEN_STATUSES = tuple(
    s for s in RetrainingStatus.values if s not in RETRAINING_CLOSED_STATUSES
)


class RetrainingPolicy(models.Model):
    """The owner's validation gates for a model's candidates, and who may ask for retraining.

    Metric gates assume higher is better (accuracy, AUC, F1); report a loss as its negative.
    """

    model = models.OneToOneField(
        MLModel, on_delete=models.CASCADE, related_name="retraining_policy"
    )
    min_metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text='Minimum holdout value per metric, e.g. {"auc": 0.8}.',
    )
    max_metric_drop = models.JSONField(
        default=dict,
        blank=True,
        help_text='Largest allowed drop against the active version, e.g. {"auc": 0.01}.',
    )
    min_shadow_accuracy = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Minimum accuracy of the candidate's shadow predictions on labelled ids.",
    )
    max_shadow_accuracy_drop = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Largest allowed accuracy drop against production on the same ids.",
    )
    min_shadow_samples = models.PositiveIntegerField(
        default=30, help_text="Labelled shadow predictions needed before the shadow gates pass."
    )
    requesters = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="retraining_requestable_models",
        blank=True,
        help_text="People, besides the owners, who may press 'Request retraining'.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(get_user=history_user)

    class Meta:
        verbose_name_plural = "retraining policies"

    def __str__(self) -> str:
        return f"retraining gates of {self.model}"

    def clean(self) -> None:
        errors = {}
        for field in ("min_metrics", "max_metric_drop"):
            value = getattr(self, field)
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                for k, v in value.items()
            ):
                errors[field] = "Give an object of metric name → number."
        if errors:
            raise ValidationError(errors)


class RetrainingRequestQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=RETRAINING_OPEN_STATUSES)


class RetrainingRequest(models.Model):
    """One retraining, from the button (or an alert) to promotion; a state machine whose
    transitions live in ``models_registry.retraining.services``."""

    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="retraining_requests")
    status = models.CharField(
        max_length=24, choices=RetrainingStatus.choices, default=RetrainingStatus.REQUESTED
    )
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retraining_requests",
        help_text="Empty when the system opened it (an alert).",
    )
    requested_by_label = models.CharField(max_length=200)
    alert_ref = models.CharField(
        max_length=100, blank=True, help_text="The alert that opened this request, if any."
    )
    base_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The active version when the request was made.",
    )
    candidate = models.OneToOneField(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retraining_request",
    )
    previous_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version the promotion retired; rollback returns to it.",
    )
    labels_path = models.CharField(max_length=500, blank=True)
    labels_rows = models.PositiveIntegerField(null=True, blank=True)
    labels_sha256 = models.CharField(max_length=64, blank=True)
    labels_since = models.DateTimeField(null=True, blank=True)
    pipeline_notified_at = models.DateTimeField(null=True, blank=True)
    pipeline_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Attempts in the current round of deliveries."
    )
    pipeline_round = models.PositiveSmallIntegerField(
        default=0,
        help_text="Round of pipeline deliveries: 0 for the automatic one, one more per resend.",
    )
    pipeline_last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    rollback_reason = models.TextField(blank=True)

    objects = RetrainingRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status__in=RETRAINING_OPEN_STATUSES),
                name="one_open_retraining_per_model",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="retraining_status_time")]

    def __str__(self) -> str:
        return f"retraining #{self.pk} of {self.model}"

    @property
    def is_open(self) -> bool:
        return self.status in RETRAINING_OPEN_STATUSES

    @property
    def labels_ready(self) -> bool:
        return bool(self.labels_path)


class ValidationReport(models.Model):
    """The gates a candidate was checked on, with the numbers; one per request."""

    request = models.OneToOneField(
        RetrainingRequest, on_delete=models.PROTECT, related_name="validation_report"
    )
    candidate = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    baseline = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    passed = models.BooleanField()
    gates = models.JSONField(
        default=list,
        help_text="[{gate, metric, threshold, candidate, active, passed, detail}]",
    )
    metrics = models.JSONField(
        default=dict, help_text="{metric: {candidate, active}} for the comparison chart."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"validation of {self.candidate}: {'passed' if self.passed else 'failed'}"


class SignOffDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class SignOff(models.Model):
    """One person's approval or rejection of a candidate; once per person per request."""

    request = models.ForeignKey(
        RetrainingRequest, on_delete=models.PROTECT, related_name="signoffs"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="retraining_signoffs"
    )
    decision = models.CharField(max_length=16, choices=SignOffDecision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "user"], name="one_signoff_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.user} on {self.request}"
