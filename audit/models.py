"""The append-only, tamper-evident audit trail.

Rows are written by the service that performs an action, in the same transaction. The database
refuses UPDATE, DELETE and TRUNCATE on them (triggers created by migration 0002), except the
sealer's one-time fill of the chain fields. See docs/audit.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

GLOBAL_CHAIN = "_global"
CHAIN_FIELDS = ("position", "prev_seq", "prev_hash", "hash", "sealed_at")


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
