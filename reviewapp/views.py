"""The reviewer web UI: thin views over the queue and decision services and the selectors.

Every page goes through ``review_item_get`` / ``review_models_for`` (the one access rule), so
an outsider gets a 404 for another model's item, never a glimpse of it.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from models_registry.pii import masked_inputs, pii_fields
from reviewapp.forms import DecisionForm
from reviewapp.models import (
    Decision,
    DeliveryStatus,
    ReviewAction,
    ReviewItemStatus,
    ReviewStage,
)
from reviewapp.selectors import (
    deliveries_visible_to,
    item_history,
    items_for_owner,
    items_held_by,
    owned_models_for,
    queue_overview,
    review_item_get,
    reviewer_figures,
    similar_decisions,
)
from reviewapp.services.decisions import review_action_record, reviews_required
from reviewapp.services.queue import (
    NotLeaseHolder,
    ReviewError,
    review_item_claim_next,
    review_item_open,
    review_item_release,
    review_item_renew,
)
from reviewapp.services.webhooks import webhook_delivery_replay

# --- presentation helpers ----------------------------------------------------------------


def reason_text(reason: dict) -> str:
    """A routing reason in plain words, with its numbers (DESIGN invariant 5)."""
    try:
        return _reason_text(reason)
    except (TypeError, ValueError, AttributeError):
        return str(reason)  # an unexpected shape is shown as stored, never a 500


def _reason_text(reason: dict) -> str:
    rule = reason.get("rule")
    if rule == "low_confidence":
        return (
            f"Low confidence: {reason.get('confidence'):.2f} is below the threshold "
            f"{reason.get('threshold'):.2f}."
        )
    if rule == "high_value":
        return (
            f"High value: {_money(reason.get('value_amount'))} is at or above the threshold "
            f"{_money(reason.get('threshold'))}."
        )
    if rule == "contract_violation":
        count = reason.get("violations", 0)
        return f"Breaks the input contract ({count} problem{'s' if count != 1 else ''})."
    if rule == "random_sample":
        return (
            f"Picked for the random audit sample ({reason.get('sample_rate', 0):.0%} of traffic)."
        )
    return str(reason)


def _money(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except Exception:  # noqa: BLE001 - show whatever was stored
        return str(value)


def input_rows(item) -> list[dict]:
    """Inputs as table rows: masked PII, the contract's description, violations per field."""
    prediction = item.prediction
    contract = prediction.version.input_contract or {}
    properties = contract.get("properties") or {}
    shown = masked_inputs(contract, prediction.inputs)
    pii = pii_fields(contract)
    problems: dict[str, list[str]] = {}
    for violation in prediction.contract_violations or []:
        path = violation.get("path", "")
        if path.startswith("inputs."):
            field = path[len("inputs.") :].split(".")[0].split("[")[0]
            problems.setdefault(field, []).append(violation.get("message", ""))
    # PostgreSQL's jsonb does not keep key order: required fields in the contract's order
    # (a list keeps it), then the others alphabetically.
    present = list(shown) if isinstance(shown, dict) else []
    everything = set(present) | set(problems)
    names = [name for name in contract.get("required") or [] if name in everything]
    names += sorted(name for name in everything if name not in names)
    rows = []
    for name in names:
        schema = properties.get(name) if isinstance(properties.get(name), dict) else {}
        rows.append(
            {
                "name": name,
                "value": shown.get(name, "—") if isinstance(shown, dict) else "—",
                "missing": isinstance(shown, dict) and name not in shown,
                "pii": name in pii,
                "description": schema.get("description") or schema.get("title") or "",
                "problems": problems.get(name, []),
            }
        )
    return rows


def output_problems(item) -> list[str]:
    return [
        v.get("message", "")
        for v in item.prediction.contract_violations or []
        if v.get("path", "").startswith("output")
    ]


def _holds(item, user) -> bool:
    return item.status == ReviewItemStatus.PENDING and item.lease_held_by(user)


def _next_or_queue(request: HttpRequest, skip_ids=()) -> HttpResponse:
    item = review_item_claim_next(user=request.user, skip_ids=skip_ids)
    if item is None:
        messages.info(request, "Nothing left in your queue. Well done.")
        return redirect("review:queue")
    return redirect("review:item", pk=item.pk)


# --- the queue ----------------------------------------------------------------------------


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    overview = queue_overview(user=request.user, now=now)
    return render(
        request,
        "review/queue.html",
        {
            "overview": overview,
            "held": items_held_by(user=request.user, now=now),
            "for_owner": items_for_owner(user=request.user),
            "is_owner": any(row["is_owner"] for row in overview),
            "waiting_total": sum(row["waiting"] for row in overview),
            "now": now,
        },
    )


@login_required
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    """ "Start reviewing" and the ``n`` key: hand back the current item (if any), take the next."""
    skip = []
    current = request.POST.get("skip")
    if current and current.isdigit():
        item = review_item_get(user=request.user, pk=int(current))
        if item is not None:
            review_item_release(user=request.user, item=item)
            skip.append(item.pk)
    return _next_or_queue(request, skip_ids=skip)


# --- one item -----------------------------------------------------------------------------


@login_required
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = review_item_get(user=request.user, pk=pk)
    if item is None:
        raise Http404("No such review item.")
    form = DecisionForm()
    failed_action = None
    status = 200
    if request.method == "POST":
        form = DecisionForm(request.POST)
        failed_action = request.POST.get("action")
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = review_action_record(
                    user=request.user,
                    item=item,
                    action=data["action"],
                    output=data.get("output"),
                    comment=data.get("comment", ""),
                )
            except ReviewError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _done_message(result))
                return _next_or_queue(request)
        status = 400
        item = review_item_get(user=request.user, pk=pk)
    elif request.method == "GET":
        if item.status == ReviewItemStatus.PENDING:
            item = review_item_open(user=request.user, item=item)
            item = review_item_get(user=request.user, pk=pk)
    else:
        return HttpResponse(status=405)
    return render(
        request,
        "review/item.html",
        _item_context(request, item, form, failed_action),
        status=status,
    )


def _done_message(result) -> str:
    external_id = result.item.prediction.external_id
    if result.decision is not None:
        return f"Decided {external_id}: {result.decision.get_action_display().lower()}."
    return {
        ReviewStage.SECOND_REVIEW: f"Recorded; {external_id} now needs a second reviewer.",
        ReviewStage.ADJUDICATION: f"The reviewers disagree; {external_id} goes to the owner.",
        ReviewStage.ESCALATED: f"Escalated {external_id} to the owner.",
    }.get(result.next_stage, "Recorded.")


def _item_context(request, item, form, failed_action) -> dict:
    user = request.user
    prediction = item.prediction
    model = item.model
    is_owner = user.pk in (model.owner_id, model.backup_owner_id)
    actions = list(ReviewAction.objects.filter(item=item).select_related("user"))
    # A second reviewer decides independently: earlier opinions are shown to the owner
    # (escalation, adjudication) and after the fact, not to the person giving the second one.
    show_opinions = item.stage in (ReviewStage.ADJUDICATION, ReviewStage.ESCALATED) or (
        item.status == ReviewItemStatus.DECIDED
    )
    output_spec = prediction.version.output_spec or {}
    try:
        decision = prediction.decision
    except Decision.DoesNotExist:
        decision = None
    now = timezone.now()
    lease = timezone.localtime(item.lease_expires_at) if item.lease_expires_at else None
    return {
        "item": item,
        "prediction": prediction,
        "model": model,
        "version": prediction.version,
        "holds": _holds(item, user),
        "held_by_other": item.claimed_by_id not in (None, user.pk)
        and item.lease_expires_at is not None
        and item.lease_expires_at > now,
        "already_reviewed": any(a.user_id == user.pk for a in actions)
        and item.status == ReviewItemStatus.PENDING,
        "lease_expires_at": lease,
        "lease_seconds_left": max(0, int((item.lease_expires_at - now).total_seconds()))
        if item.lease_expires_at
        else 0,
        "renew_every_seconds": max(5, min(120, model.lease_seconds // 3)),
        "form": form,
        "failed_action": failed_action,
        "inputs": input_rows(item),
        "output_problems": output_problems(item),
        "reasons": [reason_text(r) for r in prediction.routing_reasons or []],
        "allowed_outputs": output_spec.get("enum") or [],
        "output_minimum": output_spec.get("minimum"),
        "output_maximum": output_spec.get("maximum"),
        "two_person": item.required_reviews >= 2
        or (item.stage == ReviewStage.REVIEW and reviews_required(item) >= 2),
        "opinions": actions if show_opinions else [],
        "opinions_hidden": len(actions) if not show_opinions else 0,
        "history": item_history(item=item),
        "similar": similar_decisions(item=item),
        "decision": decision,
        "is_owner": is_owner,
        "overdue": item.status == ReviewItemStatus.PENDING and item.due_at <= now,
        "now": now,
    }


@login_required
@require_POST
def item_renew(request: HttpRequest, pk: int) -> JsonResponse:
    item = review_item_get(user=request.user, pk=pk)
    if item is None:
        return JsonResponse({"detail": "No such review item."}, status=404)
    try:
        expires = review_item_renew(user=request.user, item=item)
    except NotLeaseHolder as error:
        holder = item.claimed_by.get_username() if item.claimed_by else None
        return JsonResponse({"detail": error.message, "held_by": holder}, status=409)
    seconds = int((expires - timezone.now()).total_seconds())
    return JsonResponse({"lease_expires_at": expires.isoformat(), "seconds_left": seconds})


@login_required
@require_POST
def item_release(request: HttpRequest, pk: int) -> HttpResponse:
    item = review_item_get(user=request.user, pk=pk)
    if item is None:
        raise Http404("No such review item.")
    if review_item_release(user=request.user, item=item):
        messages.info(request, f"Handed {item.prediction.external_id} back to the queue.")
    return redirect("review:queue")


# --- figures ------------------------------------------------------------------------------


@login_required
def my_figures(request: HttpRequest) -> HttpResponse:
    figures = reviewer_figures(users=[request.user])[request.user.pk]
    recent = (
        ReviewAction.objects.filter(user=request.user)
        .select_related("item__prediction", "model")
        .order_by("-created_at")[:20]
    )
    return render(
        request,
        "review/me.html",
        {
            "figures": figures,
            "recent": recent,
            "is_owner": owned_models_for(request.user).exists(),
        },
    )


@login_required
def team(request: HttpRequest) -> HttpResponse:
    """For owners: how the people on their models' queues are doing."""
    models = list(owned_models_for(request.user).prefetch_related("reviewers"))
    if not models:
        raise Http404("You do not own a model.")
    people = {request.user.pk: request.user}
    for model in models:
        for person in (model.owner, model.backup_owner, *model.reviewers.all()):
            if person is not None:
                people[person.pk] = person
    users = sorted(people.values(), key=lambda u: u.get_username())
    figures = reviewer_figures(users=users, model_ids=[m.pk for m in models])
    rows = [figures[u.pk] for u in users]
    return render(
        request,
        "review/team.html",
        {"models": models, "rows": rows, "overview": queue_overview(user=request.user)},
    )


# --- webhook deliveries (owners) ---------------------------------------------------------


@login_required
def deliveries(request: HttpRequest) -> HttpResponse:
    if not owned_models_for(request.user).exists():
        raise Http404("You do not own a model.")
    shown = deliveries_visible_to(request.user).select_related("model", "prediction")
    status = request.GET.get("status")
    if status in DeliveryStatus.values:
        shown = shown.filter(status=status)
    return render(
        request,
        "review/deliveries.html",
        {
            "deliveries": shown[:200],
            "status": status,
            "statuses": DeliveryStatus.choices,
        },
    )


def _delivery_or_404(request, pk):
    delivery = (
        deliveries_visible_to(request.user)
        .select_related("model", "prediction")
        .filter(pk=pk)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


@login_required
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery_or_404(request, pk)
    return render(
        request,
        "review/delivery.html",
        {"delivery": delivery, "attempts": delivery.attempt_log.all()},
    )


@login_required
@require_POST
def delivery_replay(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = _delivery_or_404(request, pk)
    webhook_delivery_replay(delivery=delivery, user=request.user)
    messages.success(request, f"Event {delivery.event_id} will be sent again.")
    return redirect(reverse("review:delivery", args=[pk]))
