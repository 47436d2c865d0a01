"""Request and response shapes of the intake API. Validation of the envelope only: the
contract check and routing are the intake service's business."""

from __future__ import annotations

import math

from rest_framework import serializers

from reviewapp.models import Decision, Prediction
from reviewapp.services.intake import Envelope, RowOutcome

BATCH_LIMIT = 1000
BATCH_ROW_STATUSES = [
    RowOutcome.CREATED,
    RowOutcome.DUPLICATE,
    RowOutcome.CONFLICT,
    RowOutcome.REJECTED,
    RowOutcome.INVALID,
]


class StrictCharField(serializers.CharField):
    """A string, and only a string: 123 is a caller bug, not an id."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number, and only a finite one: "0.5" and true are caller bugs."""

    default_error_messages = {"invalid": "A number is required (got {kind})."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid", kind=type(data).__name__ if data is not None else "null")
        if not math.isfinite(data):
            self.fail("invalid", kind="a non-finite number")
        return super().to_internal_value(data)


class JSONObjectField(serializers.DictField):
    default_error_messages = {"not_a_dict": "Expected a JSON object but got {input_type}."}


class PredictionInSerializer(serializers.Serializer):
    external_id = StrictCharField(max_length=200, trim_whitespace=False)
    version = StrictCharField(max_length=64, required=False, allow_null=True)
    inputs = JSONObjectField()
    output = serializers.JSONField(help_text="The model's answer: a label, number or object.")
    confidence = StrictFloatField(min_value=0.0, max_value=1.0)
    value_amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="The money at stake, as a decimal string or number.",
    )
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    context = JSONObjectField(required=False)

    def to_envelope(self) -> Envelope:
        return envelope_from(self.validated_data)


def envelope_from(data: dict) -> Envelope:
    return Envelope(
        external_id=data["external_id"],
        version=data.get("version"),
        inputs=data["inputs"],
        output=data["output"],
        confidence=data["confidence"],
        value_amount=data.get("value_amount"),
        occurred_at=data.get("occurred_at"),
        context=data.get("context") or {},
    )


def envelopes_or_errors(raw_rows: list) -> list[Envelope | dict]:
    """Validate each row's envelope on its own: one bad row never spoils the others.

    One serializer instance checks every row (``run_validation``), so its fields are built
    once per batch instead of once per row.
    """
    serializer = PredictionInSerializer()
    rows: list[Envelope | dict] = []
    for raw in raw_rows:
        try:
            rows.append(envelope_from(serializer.run_validation(raw)))
        except serializers.ValidationError as error:
            detail = error.detail
            rows.append(
                dict(detail) if isinstance(detail, dict) else {"non_field_errors": list(detail)}
            )
    return rows


class BatchInSerializer(serializers.Serializer):
    predictions = PredictionInSerializer(many=True)


class ViolationSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class RoutingSerializer(serializers.Serializer):
    needs_review = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.DictField(),
        help_text='Each names its rule and numbers, e.g. {"rule": "low_confidence", '
        '"confidence": 0.41, "threshold": 0.6}.',
    )


class DecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["approve", "override", "reject", "fallback"])
    final_output = serializers.JSONField()
    decided_by = serializers.ListField(child=serializers.CharField())
    decided_at = serializers.DateTimeField()
    comment = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(
        allow_blank=True,
        help_text="Why the system decided, when it did: 'sla_expired'; for people: "
        "'two_person_agreed', 'adjudicated', 'escalated' or empty.",
    )


class PredictionOutSerializer(serializers.Serializer):
    """Documents the answer; ``prediction_representation`` builds it without the overhead."""

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    model = serializers.CharField()
    version = serializers.CharField()
    status = serializers.ChoiceField(choices=Prediction._meta.get_field("status").choices)
    routing = RoutingSerializer()
    contract_violations = ViolationSerializer(many=True)
    decision = DecisionSerializer(allow_null=True)
    inputs = serializers.DictField()
    output = serializers.JSONField()
    confidence = serializers.FloatField()
    value_amount = serializers.DecimalField(max_digits=18, decimal_places=2, allow_null=True)
    occurred_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField()


def decision_representation(decision: Decision | None) -> dict | None:
    if decision is None:
        return None
    return {
        "action": decision.action,
        "final_output": decision.final_output,
        "decided_by": decision.decided_by,
        "decided_at": serializers.DateTimeField().to_representation(decision.decided_at),
        "comment": decision.comment,
        "reason": decision.reason,
    }


def prediction_representation(prediction: Prediction, model_slug: str) -> dict:
    try:
        decision = prediction.decision
    except Decision.DoesNotExist:
        decision = None
    to_time = serializers.DateTimeField().to_representation
    return {
        "id": prediction.pk,
        "external_id": prediction.external_id,
        "model": model_slug,
        "version": prediction.version.label,
        "status": prediction.status,
        "routing": {
            "needs_review": prediction.needs_review,
            "reasons": prediction.routing_reasons,
        },
        "contract_violations": prediction.contract_violations,
        "decision": decision_representation(decision),
        "inputs": prediction.inputs,
        "output": prediction.output,
        "confidence": prediction.confidence,
        "value_amount": None
        if prediction.value_amount is None
        else f"{prediction.value_amount:.2f}",
        "occurred_at": to_time(prediction.occurred_at) if prediction.occurred_at else None,
        "received_at": to_time(prediction.received_at),
    }


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    differing_fields = serializers.ListField(child=serializers.CharField())
    prediction = PredictionOutSerializer()


class RejectedSerializer(PredictionOutSerializer):
    detail = serializers.CharField()


class BatchRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=BATCH_ROW_STATUSES)
    id = serializers.IntegerField(allow_null=True)
    errors = serializers.JSONField(allow_null=True)


class BatchOutSerializer(serializers.Serializer):
    results = BatchRowResultSerializer(many=True)
    summary = serializers.DictField(child=serializers.IntegerField())


class BatchTooLargeSerializer(serializers.Serializer):
    detail = serializers.CharField()
    limit = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class OutcomeInSerializer(serializers.Serializer):
    external_id = StrictCharField(max_length=200, trim_whitespace=False)
    actual = serializers.JSONField(help_text="What really happened: a label, number or object.")
    observed_at = serializers.DateTimeField(required=False, allow_null=True)


class OutcomeBatchInSerializer(serializers.Serializer):
    outcomes = OutcomeInSerializer(many=True, allow_empty=False, max_length=BATCH_LIMIT)


class OutcomeOutSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    unknown_external_ids = serializers.ListField(child=serializers.CharField())


class ActiveVersionSerializer(serializers.Serializer):
    label = serializers.CharField()
    input_contract = serializers.DictField(help_text="The JSON Schema for `inputs`.")
    output_spec = serializers.DictField(help_text="The JSON Schema for `output`.")
    routing_policy = serializers.DictField()


class PersonSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField()


class MLModelOutSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    owner = PersonSerializer()
    backup_owner = PersonSerializer(allow_null=True)
    required_signoffs = serializers.IntegerField()
    active_version = ActiveVersionSerializer(allow_null=True)


def person_representation(user) -> dict | None:
    if user is None:
        return None
    return {"username": user.get_username(), "name": user.get_full_name()}


def model_representation(model, active_version) -> dict:
    version = None
    if active_version is not None:
        policy = getattr(active_version, "routing_policy", None)
        version = {
            "label": active_version.label,
            "input_contract": active_version.input_contract,
            "output_spec": active_version.output_spec,
            "routing_policy": policy.as_api_dict() if policy else None,
        }
    return {
        "slug": model.slug,
        "name": model.name,
        "description": model.description,
        "owner": person_representation(model.owner),
        "backup_owner": person_representation(model.backup_owner),
        "required_signoffs": model.required_signoffs,
        "active_version": version,
    }
