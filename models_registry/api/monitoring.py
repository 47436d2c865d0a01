"""Baseline upload: the owner (session) or the training pipeline (a `pipeline` key) sends a
training-data sample for a version; the reply reports contract violations per column."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.actors import Actor
from models_registry.authentication import ServicePrincipal
from models_registry.models import Baseline, ModelVersion, ServiceKeyScope
from models_registry.monitoring.baseline import BaselineError, baseline_upload, latest_baseline
from models_registry.selectors import model_for_request
from reviewapp.api.serializers import ErrorSerializer

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class BaselineUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="Training-data sample as CSV (header row) or Parquet; one column per input "
        "field of the version's contract, and optionally an `output` column."
    )


class BaselineSerializer(serializers.ModelSerializer):
    version = serializers.CharField(source="version.label")
    model = serializers.CharField(source="version.model.slug")

    class Meta:
        model = Baseline
        fields = [
            "id",
            "model",
            "version",
            "file_name",
            "file_sha256",
            "row_count",
            "sample_row_count",
            "contract_report",
            "profile",
            "created_at",
        ]


ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not signed in, or an unknown key."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="Not the model's owner, or a key without the `pipeline` scope.",
    ),
    404: OpenApiResponse(ErrorSerializer, description="No such model or version."),
}


class BaselineView(APIView):
    parser_classes = [MultiPartParser]

    def _version(self, request, slug: str, label: str) -> ModelVersion:
        model = model_for_request(request.user, slug, scope=ServiceKeyScope.PIPELINE)
        user = request.user
        if not isinstance(user, ServicePrincipal) and not (
            user.is_superuser or user.pk in (model.owner_id, model.backup_owner_id)
        ):
            raise PermissionDenied("Only the model's owner or backup owner may upload baselines.")
        version = ModelVersion.objects.filter(model=model, label=label).first()
        if version is None:
            raise NotFound(f"Model '{slug}' has no version '{label}'.")
        return version

    @extend_schema(
        operation_id="baseline_upload",
        summary="Upload a training baseline for a version",
        request={"multipart/form-data": BaselineUploadSerializer},
        responses={
            201: BaselineSerializer,
            400: OpenApiResponse(
                inline_serializer(
                    "BaselineUploadError",
                    {"file": serializers.ListField(child=serializers.CharField())},
                ),
                description="The file is missing, empty, unreadable, or shares no column with "
                "the contract; the field named says what to fix.",
            ),
            **ERRORS,
        },
        tags=["baselines"],
    )
    def post(self, request, slug: str, label: str):
        version = self._version(request, slug, label)
        incoming = BaselineUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            return Response(
                {"file": [f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        principal = request.user
        is_key = isinstance(principal, ServicePrincipal)
        try:
            baseline = baseline_upload(
                version=version,
                content=upload.read(),
                file_name=upload.name,
                actor=Actor.service(principal.key) if is_key else Actor.user(principal),
                uploaded_by=None if is_key else principal,
                uploaded_by_key=principal.key if is_key else None,
            )
        except BaselineError as error:
            return Response({error.field: [error.message]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(BaselineSerializer(baseline).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="baseline_latest",
        summary="The version's current baseline profile",
        responses={200: BaselineSerializer, **ERRORS},
        tags=["baselines"],
    )
    def get(self, request, slug: str, label: str):
        version = self._version(request, slug, label)
        baseline = latest_baseline(version)
        if baseline is None:
            raise NotFound(f"No baseline uploaded yet for {slug} {label}.")
        return Response(BaselineSerializer(baseline).data)
