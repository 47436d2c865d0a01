"""The append-only, tamper-evident audit trail.

Rows are written by the service that performs an action, in the same transaction. The database
refuses UPDATE, DELETE and TRUNCATE on them (triggers created by migration 0002), except the
sealer's one-time fill of the chain fields. See docs/audit.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

GLOBAL_CHAIN = "_global"
CHAIN_FIELDS = ("position", "prev_seq", "prev_hash", "hash", "sealed_at")
# What an event's hash covers (audit/chain.py canonical_event), besides its chain position.
HASHED_FIELDS = (
    "id",
    "chain",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "payload",
)


class ActorType(models.TextChoices):
    USER = "user", "Person"
    SERVICE = "service", "Service key"
    SYSTEM = "system", "System"


class AuditEventQuerySet(models.QuerySet):
    def unsealed(self):
        return self.filter(hash__isnull=True)

    def sealed(self):
        return self.filter(hash__isnull=False)

    def for_chain(self, chain: str):
        return self.filter(chain=chain)


class AuditEvent(models.Model):
    """One thing that happened. ``id`` is the global sequence number."""

    id = models.BigAutoField(primary_key=True, verbose_name="sequence number")
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    model = models.ForeignKey(
        "models_registry.MLModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        db_constraint=False,
    )
    chain = models.CharField(
        max_length=64, help_text="The model's slug, or _global for events about no model."
    )
    payload = models.JSONField(default=dict)

    # Filled once by the sealer, never changed afterwards.
    position = models.BigIntegerField(null=True, blank=True)
    prev_seq = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, null=True, blank=True)
    sealed_at = models.DateTimeField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["chain", "position"], name="audit_chain_position"),
            models.Index(
                fields=["chain", "id"], condition=Q(hash__isnull=True), name="audit_unsealed"
            ),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            models.Index(fields=["model", "occurred_at"], name="audit_model_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.action} by {self.actor_label}"


class AuditChain(models.Model):
    """The sealed head of one chain; the sealer locks this row while it extends the chain."""

    key = models.CharField(max_length=64, primary_key=True)
    head_position = models.BigIntegerField(default=0)
    head_seq = models.BigIntegerField(null=True, blank=True)
    head_hash = models.CharField(max_length=64, blank=True, default="")
    sealed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"chain {self.key} @ {self.head_position}"


class AuditCheckpoint(models.Model):
    """An append-only record of a chain's head after each sealing run.

    Lets verification notice events cut from the end of a chain, which no link inside the chain
    can reveal. Copied into export manifests, it anchors the chain outside the database.
    """

    chain = models.CharField(max_length=64)
    position = models.BigIntegerField()
    head_seq = models.BigIntegerField()
    head_hash = models.CharField(max_length=64)
    sealed_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["chain", "position"]
        indexes = [models.Index(fields=["chain", "-position"], name="audit_checkpoint_head")]

    def __str__(self) -> str:
        return f"checkpoint {self.chain} @ {self.position}"


class ExportKind(models.TextChoices):
    EVENTS = "events", "Audit events"
    PREDICTIONS = "predictions", "Predictions, decisions and outcomes"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV (gzip)"
    JSONL = "jsonl", "JSON Lines (gzip)"
    PARQUET = "parquet", "Parquet (zstd)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Export(models.Model):
    """One compliance export: what was asked, by whom, its progress, its file and manifest.

    The row is the job's state (a django-q2 task claims it with a conditional UPDATE), and
    the list of past exports in the compliance UI. The file and the signed manifest live in
    EXPORT_DIR; ``manifest`` keeps a copy so the list survives a moved file.
    """

    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    model_slugs = models.JSONField(
        default=list, blank=True, help_text="Slugs of the models exported; empty means all."
    )
    all_models = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True, help_text="Inclusive.")
    until = models.DateTimeField(null=True, blank=True, help_text="Exclusive.")
    raw_pii = models.BooleanField(default=False)
    raw_pii_reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    rows_done = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True)
    directory = models.CharField(max_length=500, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exports",
    )
    requested_by_key = models.ForeignKey(
        "models_registry.ServiceKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="exports",
    )
    requested_by_label = models.CharField(max_length=200)
    schedule_period = models.CharField(
        max_length=7,
        blank=True,
        help_text="YYYY-MM for a monthly scheduled export; makes the schedule idempotent.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("export_audit_trail", "Can export the audit trail and predictions"),
            ("export_raw_pii", "Can export unmasked personal data, with a stated reason"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "format", "model_slugs", "schedule_period"],
                condition=~Q(schedule_period=""),
                name="one_scheduled_export_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.kind}/{self.format} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))

    @property
    def file_path(self):
        from pathlib import Path

        return Path(self.directory) / self.file_name if self.file_name else None
