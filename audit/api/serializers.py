"""Small input/output serializers of the exports API; no logic beyond shape."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from audit.models import Export, ExportFormat, ExportKind, ExportStatus


class ExportInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    models = serializers.ListField(
        child=serializers.SlugField(),
        required=False,
        help_text="Model slugs; omitted or empty: every model the caller may export.",
    )
    since = serializers.DateTimeField(required=False, allow_null=True, help_text="Inclusive.")
    until = serializers.DateTimeField(required=False, allow_null=True, help_text="Exclusive.")
    raw_pii = serializers.BooleanField(
        default=False, help_text="Unmasked personal data: compliance officers only, audited."
    )
    raw_pii_reason = serializers.CharField(required=False, allow_blank=True, default="")


class ExportOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    models = serializers.ListField(child=serializers.CharField())
    all_models = serializers.BooleanField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    raw_pii = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ExportStatus.choices)
    rows_done = serializers.IntegerField()
    rows_total = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    file = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    manifest = serializers.JSONField(allow_null=True, help_text="The signed manifest, once done.")
    download_url = serializers.CharField(allow_null=True)
    manifest_url = serializers.CharField(allow_null=True)


def export_representation(export: Export) -> dict:
    done = export.status == ExportStatus.DONE
    return {
        "id": export.pk,
        "kind": export.kind,
        "format": export.format,
        "models": export.model_slugs,
        "all_models": export.all_models,
        "since": export.since,
        "until": export.until,
        "raw_pii": export.raw_pii,
        "status": export.status,
        "rows_done": export.rows_done,
        "rows_total": export.rows_total,
        "progress_percent": export.progress_percent,
        "file": export.file_name,
        "error": export.error,
        "requested_by": export.requested_by_label,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "manifest": export.manifest if done else None,
        "download_url": reverse("api-export-download", args=[export.pk]) if done else None,
        "manifest_url": reverse("api-export-manifest", args=[export.pk]) if done else None,
    }


# One "Error" component in the schema, shared with the intake API.
from reviewapp.api.serializers import ErrorSerializer  # noqa: E402, F401
