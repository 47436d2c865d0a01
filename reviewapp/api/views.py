"""The intake API: one thin view per operation; services do the work."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.actors import Actor
from models_registry.authentication import ServicePrincipal
from models_registry.models import ServiceKeyScope
from models_registry.selectors import active_versions_for, model_for_request, models_visible_to
from reviewapp.api import serializers as s
from reviewapp.selectors import prediction_get
from reviewapp.services.intake import (
    RowOutcome,
    predictions_ingest,
    request_refusal_record,
)
from reviewapp.services.outcomes import OutcomeIn, outcomes_record

ERRORS = {
    401: OpenApiResponse(s.ErrorSerializer, description="No key, or an unknown or revoked key."),
    403: OpenApiResponse(
        s.ErrorSerializer, description="The key is not scoped to this model or lacks the scope."
    ),
    404: OpenApiResponse(s.ErrorSerializer, description="No model with this slug."),
}

ROUTED_EXAMPLE = {
    "id": 812,
    "external_id": "loan-2026-000123",
    "model": "loan-default",
    "version": "v1",
    "status": "in_review",
    "routing": {
        "needs_review": True,
        "reasons": [
            {"rule": "high_value", "value_amount": "25000.00", "threshold": "10000.00"},
            {"rule": "low_confidence", "confidence": 0.41, "threshold": 0.6},
        ],
    },
    "contract_violations": [],
    "decision": None,
    "inputs": {"applicant_age": 41, "income": 52000, "employment": "employed"},
    "output": "approve",
    "confidence": 0.41,
    "value_amount": "25000.00",
    "occurred_at": None,
    "received_at": "2026-11-25T10:15:02.120391Z",
}

PREDICTION_EXAMPLE = {
    "external_id": "loan-2026-000123",
    "inputs": {"applicant_age": 41, "income": 52000, "employment": "employed"},
    "output": "approve",
    "confidence": 0.41,
    "value_amount": "25000.00",
}


def actor_of(request) -> Actor:
    if isinstance(request.user, ServicePrincipal):
        return Actor.service(request.user.key)
    return Actor.user(request.user)


def key_of(request):
    return request.user.key if isinstance(request.user, ServicePrincipal) else None


class ModelScopedView(APIView):
    """Resolves the model in the URL; refusals of authenticated callers are audited."""

    scope = ServiceKeyScope.INTAKE

    def model_for(self, request, slug):
        try:
            return model_for_request(request.user, slug, scope=self.scope)
        except APIException as error:
            request_refusal_record(
                actor=actor_of(request),
                model=None,
                reason=error.default_code,
                detail=str(error.detail),
                path=request.path,
            )
            raise

    def body_of(self, request, model):
        """The parsed JSON body; a body that is not JSON is refused and audited."""
        try:
            return request.data
        except ParseError as error:
            request_refusal_record(
                actor=actor_of(request),
                model=model,
                reason="parse_error",
                detail=str(error.detail),
                path=request.path,
            )
            raise


class ModelListView(GenericAPIView):
    serializer_class = s.MLModelOutSerializer

    @extend_schema(
        summary="Models this caller may use",
        responses={200: s.MLModelOutSerializer(many=True), 401: ERRORS[401]},
    )
    def get(self, request):
        models = models_visible_to(request.user).order_by("slug")
        page = self.paginate_queryset(models)
        versions = active_versions_for(page)
        return self.get_paginated_response(
            [s.model_representation(m, versions.get(m.pk)) for m in page]
        )


class ModelDetailView(ModelScopedView):
    scope = None

    @extend_schema(
        summary="One model, with its active version's contract and routing policy",
        responses={200: s.MLModelOutSerializer, **ERRORS},
    )
    def get(self, request, slug):
        model = self.model_for(request, slug)
        version = active_versions_for([model]).get(model.pk)
        return Response(s.model_representation(model, version))


def _answer_for(result, slug) -> Response:
    prediction = result.prediction
    if result.outcome == RowOutcome.INVALID:
        return Response(result.errors, status=status.HTTP_400_BAD_REQUEST)
    body = s.prediction_representation(prediction, slug)
    if result.outcome == RowOutcome.CONFLICT:
        return Response(
            {
                "detail": f"A prediction with external_id '{prediction.external_id}' was "
                "already stored with different content.",
                "differing_fields": result.errors["differing_fields"],
                "prediction": body,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if result.outcome == RowOutcome.REJECTED:
        body["detail"] = (
            f"The prediction breaks the contract of version '{body['version']}' and the "
            "model's policy rejects such predictions; it is stored as rejected."
        )
        return Response(body, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    code = status.HTTP_201_CREATED if result.outcome == RowOutcome.CREATED else status.HTTP_200_OK
    return Response(body, status=code)


class PredictionCreateView(ModelScopedView):
    @extend_schema(
        summary="Send one prediction",
        description=(
            "Checks the inputs against the version's contract, routes the prediction and "
            "stores it once per (model, external_id). Sending the same content again answers "
            "200 with the stored prediction; different content answers 409."
        ),
        request=s.PredictionInSerializer,
        responses={
            201: OpenApiResponse(s.PredictionOutSerializer, description="Stored and routed."),
            200: OpenApiResponse(s.PredictionOutSerializer, description="A replay: stored before."),
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Malformed envelope: errors per field. Nothing stored; audited.",
            ),
            409: OpenApiResponse(
                s.ConflictSerializer,
                description="The external id was stored before with different content.",
            ),
            422: OpenApiResponse(
                s.RejectedSerializer,
                description="Inputs break the contract and the policy says reject: stored "
                "as rejected, with the violations.",
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "A low-confidence, high-value loan", PREDICTION_EXAMPLE, request_only=True
            ),
            OpenApiExample(
                "Routed to review, with its reasons",
                ROUTED_EXAMPLE,
                response_only=True,
                status_codes=["201", "200"],
            ),
            OpenApiExample(
                "A malformed envelope",
                {
                    "confidence": ["A number is required (got str)."],
                    "external_id": ["This field is required."],
                },
                response_only=True,
                status_codes=["400"],
            ),
            OpenApiExample(
                "A conflicting replay",
                {
                    "detail": "A prediction with external_id 'loan-2026-000123' was already "
                    "stored with different content.",
                    "differing_fields": ["confidence"],
                    "prediction": ROUTED_EXAMPLE,
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request, slug):
        model = self.model_for(request, slug)
        data = self.body_of(request, model)
        [result] = predictions_ingest(
            model=model,
            actor=actor_of(request),
            rows=s.envelopes_or_errors([data]),
            raw_rows=[data],
            key=key_of(request),
        )
        return _answer_for(result, model.slug)


class PredictionBatchView(ModelScopedView):
    @extend_schema(
        summary="Send up to 1,000 predictions",
        description=(
            "One result per row, in order. One bad row never spoils the others: each row is "
            "`created`, `duplicate`, `conflict`, `rejected` or `invalid` on its own."
        ),
        request=s.BatchInSerializer,
        responses={
            200: s.BatchOutSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="No `predictions` list."),
            413: OpenApiResponse(s.BatchTooLargeSerializer, description="Over 1,000 rows."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Mixed rows",
                {
                    "results": [
                        {
                            "index": 0,
                            "external_id": "a-1",
                            "status": "created",
                            "id": 913,
                            "errors": None,
                        },
                        {
                            "index": 1,
                            "external_id": "a-0",
                            "status": "conflict",
                            "id": 901,
                            "errors": {"differing_fields": ["output"]},
                        },
                        {
                            "index": 2,
                            "external_id": "a-2",
                            "status": "invalid",
                            "id": None,
                            "errors": {"confidence": ["A number is required (got str)."]},
                        },
                    ],
                    "summary": {
                        "created": 1,
                        "duplicate": 0,
                        "conflict": 1,
                        "rejected": 0,
                        "invalid": 1,
                        "total": 3,
                    },
                },
                response_only=True,
                status_codes=["200"],
            ),
            OpenApiExample(
                "Too many rows",
                {"detail": "A batch holds at most 1000 predictions; got 1500.", "limit": 1000},
                response_only=True,
                status_codes=["413"],
            ),
        ],
    )
    def post(self, request, slug):
        model = self.model_for(request, slug)
        data = self.body_of(request, model)
        raw_rows = data.get("predictions") if isinstance(data, dict) else None
        if not isinstance(raw_rows, list) or not raw_rows:
            detail = {"predictions": ["Expected a non-empty list of predictions."]}
            request_refusal_record(
                actor=actor_of(request),
                model=model,
                reason="invalid",
                detail=detail,
                path=request.path,
            )
            return Response(detail, status=status.HTTP_400_BAD_REQUEST)
        if len(raw_rows) > s.BATCH_LIMIT:
            detail = f"A batch holds at most {s.BATCH_LIMIT} predictions; got {len(raw_rows)}."
            request_refusal_record(
                actor=actor_of(request),
                model=model,
                reason="too_large",
                detail=detail,
                path=request.path,
            )
            return Response(
                {"detail": detail, "limit": s.BATCH_LIMIT},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        rows = s.envelopes_or_errors(raw_rows)
        results = predictions_ingest(
            model=model,
            actor=actor_of(request),
            rows=rows,
            raw_rows=raw_rows,
            key=key_of(request),
        )
        summary = {outcome: 0 for outcome in s.BATCH_ROW_STATUSES}
        body = []
        for result in results:
            summary[result.outcome] += 1
            body.append(
                {
                    "index": result.index,
                    "external_id": result.external_id,
                    "status": result.outcome,
                    "id": result.prediction.pk if result.prediction else None,
                    "errors": result.errors
                    if result.outcome != RowOutcome.REJECTED
                    else {"contract_violations": result.prediction.contract_violations},
                }
            )
        summary["total"] = len(results)
        return Response({"results": body, "summary": summary})


class PredictionDetailView(ModelScopedView):
    @extend_schema(
        summary="Read a prediction back, with its decision once there is one",
        responses={200: s.PredictionOutSerializer, **ERRORS},
    )
    def get(self, request, slug, external_id):
        model = self.model_for(request, slug)
        prediction = prediction_get(model=model, external_id=external_id)
        if prediction is None:
            raise NotFound(f"No prediction with external_id '{external_id}' for model '{slug}'.")
        return Response(s.prediction_representation(prediction, model.slug))


class OutcomesView(ModelScopedView):
    @extend_schema(
        summary="Report ground truth for earlier predictions",
        description="One outcome (`external_id`, `actual`, `observed_at`) or "
        '`{"outcomes": [...]}`. A later outcome for the same prediction replaces the earlier '
        "one; the history is kept and audited.",
        request=s.OutcomeBatchInSerializer,
        responses={
            200: s.OutcomeOutSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Errors per field."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "One outcome",
                {
                    "external_id": "loan-2026-000123",
                    "actual": "decline",
                    "observed_at": "2026-11-20T10:00:00Z",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request, slug):
        model = self.model_for(request, slug)
        data = self.body_of(request, model)
        if isinstance(data, dict) and "outcomes" in data:
            serializer = s.OutcomeBatchInSerializer(data=data)
            serializer.is_valid(raise_exception=True)
            items = serializer.validated_data["outcomes"]
        else:
            serializer = s.OutcomeInSerializer(data=data)
            serializer.is_valid(raise_exception=True)
            items = [serializer.validated_data]
        result = outcomes_record(
            model=model,
            actor=actor_of(request),
            outcomes=[
                OutcomeIn(i["external_id"], i["actual"], i.get("observed_at")) for i in items
            ],
        )
        return Response(
            {"stored": result.stored, "unknown_external_ids": result.unknown_external_ids}
        )
