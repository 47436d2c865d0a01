"""The exports API: request an export, follow it, download the file and its manifest.

A compliance officer's session or a service key with the ``export`` scope; everyone else gets
403, and an export the caller may not see is 404 (its existence is not revealed).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.api import serializers as s
from audit.models import ExportStatus
from audit.services_exports import export_download_record, export_request
from models_registry import access

ERRORS = {
    401: OpenApiResponse(s.ErrorSerializer, description="Not signed in, or no valid key."),
    403: OpenApiResponse(
        s.ErrorSerializer,
        description="Not a compliance officer, or the key lacks the 'export' scope or the model.",
    ),
}
NOT_FOUND = {404: OpenApiResponse(s.ErrorSerializer, description="No such export for you.")}


class CanExport(BasePermission):
    message = "Exports need the compliance officer role or a service key with the 'export' scope."

    def has_permission(self, request, view):
        return access.can_export(request.user)


class ExportScopedView(APIView):
    permission_classes = [IsAuthenticated, CanExport]

    def export_for(self, request, pk):
        return get_object_or_404(access.exports_visible_to(request.user), pk=pk)


class ExportListCreateView(GenericAPIView, ExportScopedView):
    serializer_class = s.ExportOutSerializer

    @extend_schema(
        summary="Past exports this caller may see",
        responses={200: s.ExportOutSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        page = self.paginate_queryset(access.exports_visible_to(request.user))
        return self.get_paginated_response([s.export_representation(e) for e in page])

    @extend_schema(
        summary="Request an export",
        description=(
            "Queues the export as a background job and answers 202 at once; poll the export "
            "until `status` is `done`, then follow `download_url` and `manifest_url`. The "
            "request and every download are audit events."
        ),
        request=s.ExportInSerializer,
        responses={
            202: OpenApiResponse(s.ExportOutSerializer, description="Queued."),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Errors per field."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Last month's audit events of one model as Parquet",
                {
                    "kind": "events",
                    "format": "parquet",
                    "models": ["loan-default"],
                    "since": "2026-10-01T00:00:00Z",
                    "until": "2026-11-01T00:00:00Z",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = s.ExportInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            export = export_request(
                principal=request.user,
                kind=data["kind"],
                format=data["format"],
                models=data.get("models") or None,
                since=data.get("since"),
                until=data.get("until"),
                raw_pii=data["raw_pii"],
                raw_pii_reason=data["raw_pii_reason"],
            )
        except ValidationError as error:
            raise DRFValidationError(error.message_dict) from error
        response = Response(s.export_representation(export), status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/exports/{export.pk}"
        return response


class ExportDetailView(ExportScopedView):
    @extend_schema(
        summary="One export: status, progress and, once done, its signed manifest",
        responses={200: s.ExportOutSerializer, **ERRORS, **NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(s.export_representation(self.export_for(request, pk)))


def _file_response(request, export, path, what: str, content_type: str):
    if export.status != ExportStatus.DONE:
        return Response(
            {"detail": f"The export is {export.status}; download it when it is done."},
            status=status.HTTP_409_CONFLICT,
        )
    if path is None or not path.is_file():
        return Response(
            {"detail": "The file is no longer in the export directory."},
            status=status.HTTP_410_GONE,
        )
    export_download_record(export=export, principal=request.user, what=what)
    return FileResponse(
        open(path, "rb"), as_attachment=True, filename=path.name, content_type=content_type
    )


FILE_ERRORS = {
    409: OpenApiResponse(s.ErrorSerializer, description="Not done yet."),
    410: OpenApiResponse(s.ErrorSerializer, description="The file was removed."),
    **ERRORS,
    **NOT_FOUND,
}


class ExportDownloadView(ExportScopedView):
    @extend_schema(
        summary="Download the export file (audited)",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, exactly as hashed in the manifest."
            ),
            **FILE_ERRORS,
        },
    )
    def get(self, request, pk: int):
        export = self.export_for(request, pk)
        return _file_response(request, export, export.file_path, "file", "application/octet-stream")


class ExportManifestView(ExportScopedView):
    @extend_schema(
        summary="Download the signed manifest (audited)",
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The manifest file beside the export."
            ),
            **FILE_ERRORS,
        },
    )
    def get(self, request, pk: int):
        export = self.export_for(request, pk)
        path = export.file_path
        manifest = path.with_name(path.name + ".manifest.json") if path else None
        return _file_response(request, export, manifest, "manifest", "application/json")
