"""The compliance UI: request an export, watch its progress, download it with its manifest.

Thin views over audit/services_exports.py and the access selectors in models_registry/access.py
(the API uses the same ones). Only compliance officers get in; others get 403.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from audit.forms import ExportForm
from audit.models import ExportStatus
from audit.services_exports import export_download_record, export_request
from models_registry import access


def _compliance_only(request) -> None:
    if not access.is_compliance_officer(request.user):
        raise PermissionDenied("The compliance pages are for compliance officers.")


def _export_for(request, pk: int):
    _compliance_only(request)
    return get_object_or_404(access.exports_visible_to(request.user), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def compliance_home(request):
    _compliance_only(request)
    slugs = list(
        access.exportable_models(request.user).order_by("slug").values_list("slug", flat=True)
    )
    allow_raw = access.can_export_raw_pii(request.user)
    form = ExportForm(request.POST or None, model_slugs=slugs, allow_raw_pii=allow_raw)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            export = export_request(
                principal=request.user,
                kind=data["kind"],
                format=data["format"],
                models=data["models"] or None,
                since=form.moment(data["since"]),
                until=form.moment(data["until"]),
                raw_pii=data.get("raw_pii", False),
                raw_pii_reason=data.get("raw_pii_reason", ""),
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return redirect("compliance-export", pk=export.pk)
    exports = access.exports_visible_to(request.user)[:50]
    return render(request, "audit/compliance.html", {"form": form, "exports": exports})


@login_required
@require_GET
def export_detail(request, pk: int):
    export = _export_for(request, pk)
    manifest_text = json.dumps(export.manifest, indent=2, sort_keys=True) if export.manifest else ""
    return render(
        request, "audit/export_detail.html", {"export": export, "manifest_text": manifest_text}
    )


@login_required
@require_GET
def export_status(request, pk: int):
    export = _export_for(request, pk)
    return JsonResponse(
        {
            "id": export.pk,
            "status": export.status,
            "rows_done": export.rows_done,
            "rows_total": export.rows_total,
            "progress_percent": export.progress_percent,
            "error": export.error,
        }
    )


def _download(request, pk: int, what: str):
    export = _export_for(request, pk)
    path = export.file_path
    if what == "manifest" and path is not None:
        path = path.with_name(path.name + ".manifest.json")
    if export.status != ExportStatus.DONE or path is None or not path.is_file():
        raise Http404("This export has no file to download (not done, or removed).")
    export_download_record(export=export, principal=request.user, what=what)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@login_required
@require_GET
def export_download(request, pk: int):
    return _download(request, pk, "file")


@login_required
@require_GET
def export_manifest(request, pk: int):
    return _download(request, pk, "manifest")
