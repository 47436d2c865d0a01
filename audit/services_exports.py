"""Writes for compliance exports: request one, run it, record its downloads, run the monthly
schedule. Every export and every download is itself an audit event, written here in the same
transaction as the change it describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import Actor
from audit.exports.build import ExportSpec, export_write
from audit.models import Export, ExportFormat, ExportKind, ExportStatus
from audit.services import audit_chains_seal, audit_event_record
from models_registry import access
from models_registry.authentication import ServicePrincipal
from models_registry.models import MLModel

logger = logging.getLogger(__name__)

RUN_FUNC = "audit.tasks.run_export"


def exports_supported() -> bool:
    """Exports let PostgreSQL format and stream the rows (audit/exports/sources.py)."""
    return connection.vendor == "postgresql"


def _actor_of(principal) -> Actor:
    if isinstance(principal, ServicePrincipal):
        return Actor.service(principal.key)
    return Actor.user(principal)


def _validated_models(principal, slugs: list[str] | None) -> list[str] | None:
    """The slugs to export (None = every model), or a ValidationError naming the field."""
    slugs = sorted(set(slugs or []))
    # principal None is the command line, whose operator has the database already.
    allowed = MLModel.objects.all() if principal is None else access.exportable_models(principal)
    allowed_slugs = set(allowed.values_list("slug", flat=True))
    if slugs:
        known = set(MLModel.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        unknown = sorted(set(slugs) - known)
        if unknown:
            raise ValidationError({"models": f"Unknown model slug(s): {', '.join(unknown)}."})
        forbidden = sorted(set(slugs) - allowed_slugs)
        if forbidden:
            raise PermissionDenied(f"You may not export model(s): {', '.join(forbidden)}.")
        return slugs
    if isinstance(principal, ServicePrincipal):
        # A key exports its own models only, never the _global chain.
        return sorted(allowed_slugs)
    return None


def export_request(
    *,
    principal,
    kind: str,
    format: str,
    models: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    raw_pii: bool = False,
    raw_pii_reason: str = "",
    actor: Actor | None = None,
    enqueue: bool = True,
) -> Export:
    """Record an export request (audited) and queue it for a django-q2 worker.

    ``principal`` is the user or service principal asking (None for the command line, which
    passes ``actor``). Raw personal data needs the permission and a stated reason.
    """
    if principal is not None and not access.can_export(principal):
        raise PermissionDenied("Exports need the compliance officer role or the 'export' scope.")
    errors = {}
    if not exports_supported():
        errors["database"] = (
            f"Exports are streamed from PostgreSQL; this Countersign runs on "
            f"{connection.vendor}. Point DATABASE_URL at PostgreSQL to export (the SQLite "
            "demo database can't)."
        )
    if kind not in ExportKind.values:
        errors["kind"] = f"Choose one of: {', '.join(ExportKind.values)}."
    if format not in ExportFormat.values:
        errors["format"] = f"Choose one of: {', '.join(ExportFormat.values)}."
    if since and until and since >= until:
        errors["until"] = "Must be after 'since' (since is inclusive, until exclusive)."
    raw_pii_reason = (raw_pii_reason or "").strip()
    if raw_pii:
        if principal is not None and not access.can_export_raw_pii(principal):
            raise PermissionDenied("Only a compliance officer may export raw personal data.")
        if not raw_pii_reason:
            errors["raw_pii_reason"] = "State why raw personal data is needed; it is audited."
    if errors:
        raise ValidationError(errors)
    slugs = _validated_models(principal, models)
    actor = actor or _actor_of(principal)

    with transaction.atomic():
        export = Export.objects.create(
            kind=kind,
            format=format,
            model_slugs=slugs or [],
            all_models=slugs is None,
            since=since,
            until=until,
            raw_pii=raw_pii,
            raw_pii_reason=raw_pii_reason if raw_pii else "",
            requested_by=principal if access.is_person(principal) else None,
            requested_by_key=principal.key if isinstance(principal, ServicePrincipal) else None,
            requested_by_label=actor.label,
        )
        audit_event_record(
            action="export.requested",
            actor=actor,
            object_type="audit.export",
            object_id=export.pk,
            payload={
                "kind": kind,
                "format": format,
                "models": slugs if slugs is not None else "all",
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "raw_pii": raw_pii,
                **({"raw_pii_reason": raw_pii_reason} if raw_pii else {}),
            },
        )
        if enqueue:
            transaction.on_commit(lambda: _enqueue(export.pk))
    return export


def _enqueue(export_id: int) -> None:
    from django_q.tasks import async_task

    async_task(RUN_FUNC, export_id, task_name=f"export-{export_id}")


def _claim(export_id: int) -> bool:
    """Take the export for this run: queued, or running but abandoned by a dead worker."""
    stale = timezone.now() - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 300) + 60)
    claimable = Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, started_at__lt=stale)
    return bool(
        Export.objects.filter(claimable, pk=export_id).update(
            status=ExportStatus.RUNNING, started_at=timezone.now(), rows_done=0, error=""
        )
    )


class _ProgressWriter:
    """Saves an export's progress through a connection of its own.

    The export reads inside one long read-only transaction (a consistent snapshot); progress
    written there would stay invisible to the UI until the end, so it goes out on a second
    connection in autocommit, at most twice a second.
    """

    def __init__(self, export_id: int):
        self.export_id = export_id
        self.last_saved = 0.0
        self._connection = None

    def save(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done and now - self.last_saved < 0.5:
            return
        self.last_saved = now
        if not connection.in_atomic_block:
            Export.objects.filter(pk=self.export_id).update(rows_done=done, rows_total=total)
            return
        if self._connection is None:
            self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Export._meta.db_table} SET rows_done = %s, rows_total = %s WHERE id = %s",
                [done, total, self.export_id],
            )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def export_run(
    *,
    export_id: int,
    directory: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    """Write the export's file and manifest. Safe to run twice: only one run claims it, and a
    finished export is left alone."""
    if not _claim(export_id):
        return Export.objects.get(pk=export_id)
    export = Export.objects.get(pk=export_id)
    directory = Path(directory or settings.EXPORT_DIR)
    # Seal what the grace period allows, so the file carries as many verifiable links as it can.
    audit_chains_seal()
    spec = ExportSpec(
        kind=export.kind,
        format=export.format,
        models=None if export.all_models else list(export.model_slugs),
        since=export.since,
        until=export.until,
        raw_pii=export.raw_pii,
        raw_pii_reason=export.raw_pii_reason,
    )
    progress_writer = _ProgressWriter(export_id)

    def on_progress(done: int, total: int) -> None:
        progress_writer.save(done, total)
        if progress:
            progress(done, total)

    try:
        result = export_write(
            spec=spec,
            directory=directory,
            generated_by=export.requested_by_label,
            file_stem=f"{spec.stem()}-x{export.pk}",
            progress=on_progress,
            extra={"export_id": export.pk},
        )
    except Exception as error:
        progress_writer.close()
        logger.exception("export %s failed", export_id)
        with transaction.atomic():
            Export.objects.filter(pk=export_id).update(
                status=ExportStatus.FAILED, error=str(error)[:2000], finished_at=timezone.now()
            )
            audit_event_record(
                action="export.failed",
                actor=Actor.system("exporter"),
                object_type="audit.export",
                object_id=export_id,
                payload={"error": str(error)[:500]},
            )
        raise
    progress_writer.close()
    manifest = result.manifest
    with transaction.atomic():
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.DONE,
            rows_done=manifest["row_count"],
            rows_total=manifest["row_count"],
            file_name=result.file.name,
            directory=str(result.file.parent),
            manifest=manifest,
            finished_at=timezone.now(),
        )
        audit_event_record(
            action="export.completed",
            actor=Actor.system("exporter"),
            object_type="audit.export",
            object_id=export_id,
            payload={
                "file": result.file.name,
                "sha256": manifest["sha256"],
                "row_count": manifest["row_count"],
                "signature": manifest["signature"],
                "verify_audit_ok": manifest["verify_audit"]["ok"],
            },
        )
    return Export.objects.get(pk=export_id)


def export_download_record(*, export: Export, principal, what: str = "file") -> None:
    """Every download is an audit event (who took which file, with which hash)."""
    audit_event_record(
        action="export.downloaded",
        actor=_actor_of(principal),
        object_type="audit.export",
        object_id=export.pk,
        payload={"what": what, "file": export.file_name, "sha256": export.manifest.get("sha256")},
    )


def _previous_month(today) -> tuple[datetime, datetime, str]:
    first_this = datetime(today.year, today.month, 1, tzinfo=UTC)
    last_month_day = first_this - timedelta(days=1)
    first_prev = datetime(last_month_day.year, last_month_day.month, 1, tzinfo=UTC)
    return first_prev, first_this, f"{first_prev:%Y-%m}"


def exports_monthly_run(*, today=None) -> list[Export]:
    """Export last month's events and predictions of every model into EXPORT_SCHEDULE_DIR.

    Idempotent: one export per kind, format, model and month (a unique constraint); a finished
    one is skipped, a failed or abandoned one is run again.
    """
    if not exports_supported():
        logger.warning(
            "Monthly exports skipped: exports need PostgreSQL, not %s.", connection.vendor
        )
        return []
    since, until, period = _previous_month(today or timezone.now().date())
    fmt = settings.EXPORT_SCHEDULE_FORMAT
    done = []
    for slug in MLModel.objects.order_by("slug").values_list("slug", flat=True):
        for kind in ExportKind.values:
            export, created = Export.objects.get_or_create(
                kind=kind,
                format=fmt,
                model_slugs=[slug],
                schedule_period=period,
                defaults={
                    "since": since,
                    "until": until,
                    "requested_by_label": "system: monthly export",
                },
            )
            if created:
                audit_event_record(
                    action="export.requested",
                    actor=Actor.system("monthly export"),
                    object_type="audit.export",
                    object_id=export.pk,
                    payload={"kind": kind, "format": fmt, "models": [slug], "period": period},
                )
            if export.status == ExportStatus.FAILED:
                Export.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED)
            if export.status == ExportStatus.DONE:
                continue
            try:
                done.append(
                    export_run(
                        export_id=export.pk,
                        directory=Path(settings.EXPORT_SCHEDULE_DIR) / slug / period,
                    )
                )
            except Exception:  # recorded as failed and audited; the other models still run
                continue
    return done
