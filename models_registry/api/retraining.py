"""The retraining API: the pipeline registers candidates, polls requests and fetches labels.

Thin views: access through the selectors, writes through ``models_registry.retraining``'s
services, whose errors (``RetrainingError``) become JSON naming the field.
"""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from models_registry import contracts
from models_registry.authentication import ServicePrincipal
from models_registry.models import (
    ModelVersion,
    RetrainingRequest,
    RetrainingStatus,
    RoutingPolicy,
    ServiceKeyScope,
)
from models_registry.retraining import services
from models_registry.retraining.representations import retraining_request_representation
from models_registry.retraining.selectors import (
    retraining_request_for,
    retraining_requests_visible_to,
    user_may_approve,
)
from reviewapp.api.serializers import ErrorSerializer, JSONObjectField, StrictFloatField
from reviewapp.api.views import ERRORS, ModelScopedView, key_of


def version_representation(version: ModelVersion) -> dict:
    policy = getattr(version, "routing_policy", None)
    return {
        "label": version.label,
        "status": version.status,
        "artifact_uri": version.artifact_uri,
        "training_data_ref": version.training_data_ref,
        "code_version": version.code_version,
        "metrics": version.metrics,
        "input_contract": version.input_contract,
        "output_spec": version.output_spec,
        "routing_policy": policy.as_api_dict() if policy else None,
        "created_at": version.created_at.isoformat().replace("+00:00", "Z"),
        "retraining_request": getattr(
            RetrainingRequest.objects.filter(candidate=version).only("pk").first(), "pk", None
        ),
    }


def error_response(error: services.RetrainingError) -> Response:
    body = {"detail": error.message}
    if error.field != "detail":
        body[error.field] = [error.message]
    return Response(body, status=error.status_code)


# --- Serializers ---------------------------------------------------------------------------


class RoutingPolicyInSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoutingPolicy
        fields = services.ROUTING_FIELDS
        extra_kwargs = {name: {"required": False} for name in services.ROUTING_FIELDS}


class CandidateInSerializer(serializers.Serializer):
    label = serializers.SlugField(max_length=64)
    artifact_uri = serializers.CharField(max_length=500)
    training_data_ref = serializers.CharField(max_length=500, required=False, allow_blank=True)
    code_version = serializers.CharField(max_length=200, required=False, allow_blank=True)
    metrics = serializers.DictField(
        child=StrictFloatField(), help_text="Holdout metrics, name → number (higher is better)."
    )
    notes = serializers.CharField(required=False, allow_blank=True)
    retraining_request = serializers.IntegerField(required=False, allow_null=True)
    input_contract = JSONObjectField(
        required=False, help_text="JSON Schema for inputs; default: the active version's."
    )
    output_spec = JSONObjectField(
        required=False, help_text="JSON Schema for the output; default: the active version's."
    )
    routing_policy = RoutingPolicyInSerializer(
        required=False, help_text="Fields to change; the rest is copied from the active version."
    )

    def validate(self, attrs):
        for field in ("input_contract", "output_spec"):
            if field in attrs:
                problem = contracts.schema_problem(attrs[field])
                if problem:
                    raise ValidationError(
                        {field: [f"Not a valid JSON Schema (draft 2020-12): {problem}"]}
                    )
        return attrs


class VersionOutSerializer(serializers.Serializer):
    label = serializers.CharField()
    status = serializers.CharField()
    artifact_uri = serializers.CharField()
    training_data_ref = serializers.CharField()
    code_version = serializers.CharField()
    metrics = serializers.DictField(child=serializers.FloatField())
    input_contract = serializers.DictField()
    output_spec = serializers.DictField()
    routing_policy = serializers.DictField(allow_null=True)
    created_at = serializers.DateTimeField()
    retraining_request = serializers.IntegerField(allow_null=True)


class RetrainingRequestOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(help_text="The model's slug.")
    status = serializers.ChoiceField(choices=RetrainingStatus.choices)
    reason = serializers.CharField()
    requested_by = serializers.CharField(help_text="A person, or the alert rule that opened it.")
    created_at = serializers.DateTimeField()
    labels_uri = serializers.URLField(
        allow_null=True, help_text="Where the Parquet labels file can be fetched with the key."
    )
    labels_rows = serializers.IntegerField(allow_null=True)
    labels_sha256 = serializers.CharField(allow_null=True)
    candidate = serializers.CharField(allow_null=True, help_text="The candidate's label.")


class FieldErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    label = serializers.ListField(child=serializers.CharField(), required=False)
    retraining_request = serializers.ListField(child=serializers.CharField(), required=False)


# --- Views ---------------------------------------------------------------------------------


class VersionCreateView(ModelScopedView):
    scope = ServiceKeyScope.PIPELINE

    @extend_schema(
        summary="Register a candidate version (the training pipeline)",
        description=(
            "Needs a service key with the `pipeline` scope for this model. The version is "
            "stored as a `candidate`: it never becomes active by registering. Naming a "
            "`retraining_request` moves that request to validation. Contracts and the routing "
            "policy default to the active version's."
        ),
        request=CandidateInSerializer,
        responses={
            201: OpenApiResponse(VersionOutSerializer, description="Registered as a candidate."),
            400: OpenApiResponse(FieldErrorSerializer, description="A field is wrong."),
            409: OpenApiResponse(
                FieldErrorSerializer,
                description="The label exists, or the request no longer takes a candidate.",
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Candidate",
                request_only=True,
                value={
                    "label": "v2",
                    "artifact_uri": "s3://models/loan-default/v2.pkl",
                    "training_data_ref": "labels/retraining-7.parquet",
                    "code_version": "git:3f2a9c1",
                    "metrics": {"accuracy": 0.93, "auc": 0.88},
                    "retraining_request": 7,
                },
            )
        ],
    )
    def post(self, request, slug):
        model = self.model_for(request, slug)
        serializer = CandidateInSerializer(data=self.body_of(request, model))
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        try:
            version = services.version_candidate_register(
                model=model,
                data=services.CandidateIn(**data),
                key=key_of(request),
                user=None if key_of(request) else request.user,
            )
        except services.RetrainingError as error:
            return error_response(error)
        return Response(version_representation(version), status=status.HTTP_201_CREATED)


class RetrainingRequestListView(GenericAPIView):
    serializer_class = RetrainingRequestOutSerializer

    @extend_schema(
        summary="Retraining requests (the pipeline polls `?status=requested`)",
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=RetrainingStatus.values, required=False
            ),
            OpenApiParameter("model", OpenApiTypes.STR, description="A model slug."),
        ],
        responses={
            200: RetrainingRequestOutSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="An unknown status."),
            401: ERRORS[401],
            403: OpenApiResponse(ErrorSerializer, description="The key lacks `pipeline`."),
        },
    )
    def get(self, request):
        principal = request.user
        if isinstance(principal, ServicePrincipal) and not principal.key.has_scope(
            ServiceKeyScope.PIPELINE
        ):
            return Response(
                {"detail": "This service key lacks the 'pipeline' scope."},
                status=status.HTTP_403_FORBIDDEN,
            )
        requests = retraining_requests_visible_to(principal).order_by("created_at", "pk")
        wanted = request.query_params.get("status")
        if wanted is not None:
            if wanted not in RetrainingStatus.values:
                return Response(
                    {
                        "detail": f"Unknown status '{wanted}'.",
                        "status": [f"Choose one of: {', '.join(RetrainingStatus.values)}."],
                    },
                    status=status.HTTP_400_BAD_REQUEST,
                )
            requests = requests.filter(status=wanted)
        if request.query_params.get("model"):
            requests = requests.filter(model__slug=request.query_params["model"])
        page = self.paginate_queryset(requests)
        return self.get_paginated_response([retraining_request_representation(r) for r in page])


class RetrainingRequestDetailView(APIView):
    @extend_schema(
        summary="One retraining request",
        responses={200: RetrainingRequestOutSerializer, **ERRORS},
    )
    def get(self, request, pk: int):
        return Response(retraining_request_representation(retraining_request_for(request.user, pk)))


class RetrainingLabelsView(APIView):
    @extend_schema(
        summary="Download a request's training labels (Parquet)",
        description=(
            "One row per production prediction with a human decision or an outcome since the "
            "active version went live. Columns: external_id, version, received_at, "
            "inputs_json, model_output_json, confidence, label_json, label_source "
            "(outcome|decision), decision_action, decision_output_json, decided_by, "
            "decided_at, outcome_json, outcome_observed_at."
        ),
        responses={
            (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
            409: OpenApiResponse(ErrorSerializer, description="The labels are not ready yet."),
            **ERRORS,
        },
    )
    def get(self, request, pk: int):
        retraining = retraining_request_for(request.user, pk)
        if not isinstance(request.user, ServicePrincipal) and not (
            request.user.is_superuser or user_may_approve(request.user, retraining.model)
        ):
            # The file holds raw inputs (personal data included) for training: the pipeline,
            # the owners and the approvers get it, not everyone who reviews the model.
            return Response(
                {"detail": "Only the pipeline, the owners and the approvers may fetch labels."},
                status=status.HTTP_403_FORBIDDEN,
            )
        path = Path(retraining.labels_path) if retraining.labels_path else None
        if path is None or not path.exists():
            return Response(
                {"detail": "The labels file is not ready yet; poll the request's labels_uri."},
                status=status.HTTP_409_CONFLICT,
            )
        response = FileResponse(
            open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
            as_attachment=True,
            filename=path.name,
            content_type="application/vnd.apache.parquet",
        )
        response["X-Content-SHA256"] = retraining.labels_sha256
        return response


class RetrainingValidateView(APIView):
    @extend_schema(
        summary="Start validation once the candidate's shadow predictions are in",
        description=(
            "When the model's retraining policy has shadow gates, a registered candidate waits "
            "in `candidate_registered` until this call (or the page's button) starts "
            "validation. Needs the `pipeline` scope, or an owner or approver."
        ),
        request=None,
        responses={
            202: OpenApiResponse(RetrainingRequestOutSerializer, description="Validation queued."),
            409: OpenApiResponse(ErrorSerializer, description="Not waiting for validation."),
            **ERRORS,
        },
    )
    def post(self, request, pk: int):
        retraining = retraining_request_for(request.user, pk)
        try:
            retraining = services.retraining_validation_start(
                request=retraining,
                key=key_of(request),
                user=None if key_of(request) else request.user,
            )
        except services.RetrainingError as error:
            return error_response(error)
        return Response(
            retraining_request_representation(retraining), status=status.HTTP_202_ACCEPTED
        )


class RetrainingPipelineResendView(APIView):
    @extend_schema(
        summary="Send a request to the training pipeline's webhook again",
        description=(
            "For the model's owner and backup owner, once the pipeline is fixed: after the "
            "automatic attempts gave up, or instead of waiting for the next one. Starts a fresh "
            "round of signed deliveries (attempts count from 1 again) with the same "
            "`Countersign-Event-Id`, `retraining-request-<id>`, so the pipeline can drop a "
            "duplicate; pending automatic retries are dropped. Audited as "
            "`retraining.pipeline_resend_requested`. Service keys may not."
        ),
        request=None,
        responses={
            202: OpenApiResponse(
                RetrainingRequestOutSerializer, description="A fresh delivery is queued."
            ),
            403: OpenApiResponse(
                ErrorSerializer,
                description="Not the model's owner or backup owner (a compliance officer, a "
                "reviewer, a service key).",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "Nothing to send: the request is closed, the pipeline already acknowledged "
                    "it or registered its candidate, no webhook is configured, or the labels "
                    "are not written yet. `detail` says which."
                ),
                examples=[
                    OpenApiExample(
                        "Acknowledged",
                        value={
                            "detail": "The pipeline already acknowledged this request on "
                            "2026-12-02 09:51 UTC; there is nothing to send again."
                        },
                    )
                ],
            ),
            401: ERRORS[401],
            404: OpenApiResponse(
                ErrorSerializer,
                description="No such request, or one of a model the caller may not see.",
            ),
        },
    )
    def post(self, request, pk: int):
        retraining = retraining_request_for(request.user, pk)
        if key_of(request):
            return Response(
                {"detail": "Only the model's owners may send a request to the pipeline again."},
                status=status.HTTP_403_FORBIDDEN,
            )
        try:
            retraining = services.retraining_pipeline_resend(request=retraining, user=request.user)
        except services.RetrainingError as error:
            return error_response(error)
        return Response(
            retraining_request_representation(retraining), status=status.HTTP_202_ACCEPTED
        )
