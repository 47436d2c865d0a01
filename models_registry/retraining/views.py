"""Retraining pages: a model's requests, one request's page (timeline, validation report,
sign-off panel), and the approvers' inbox. Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.actors import Actor
from models_registry.models import MLModel, RetrainingStatus, SignOffDecision
from models_registry.retraining import services
from models_registry.retraining.charts import metric_comparison_svg
from models_registry.retraining.forms import ReasonForm, SignOffForm
from models_registry.retraining.selectors import (
    approvers_of,
    open_request_for_model,
    pipeline_delivery_for,
    pipeline_resend_refusal,
    retraining_inbox_for,
    retraining_requests_visible_to,
    retraining_timeline,
    rollback_target_for,
    user_is_owner,
    user_may_approve,
    user_may_edit_gates,
    user_may_reject,
    user_may_request,
)
from models_registry.selectors import models_visible_to


def _model_for(user, slug: str) -> MLModel:
    model = models_visible_to(user).filter(slug=slug).first()
    if model is None:
        raise Http404("No such model.")
    return model


def _request_for(user, pk: int):
    request = retraining_requests_visible_to(user).filter(pk=pk).first()
    if request is None:
        raise Http404("No such retraining request.")
    return request


def model_panel_context(model: MLModel, user) -> dict:
    """What the "Request retraining" panel on the model page needs (also used by the
    ``retraining_panel`` template tag)."""
    return {
        "model": model,
        "open_request": open_request_for_model(model),
        "may_request": user_may_request(user, model),
        "rollback_target": rollback_target_for(model) if user_is_owner(user, model) else None,
        "request_form": ReasonForm(),
        "may_edit_gates": user_may_edit_gates(user, model),
    }


def _model_page(request, model: MLModel, form: ReasonForm, status: int = 200) -> HttpResponse:
    context = model_panel_context(model, request.user)
    context.update(
        request_form=form,
        requests=model.retraining_requests.select_related("candidate").order_by("-created_at"),
    )
    return render(request, "models_registry/retraining/model.html", context, status=status)


@login_required
def model_retraining(request, slug: str) -> HttpResponse:
    model = _model_for(request.user, slug)
    form = ReasonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = services.retraining_request_open(
                    model=model, user=request.user, reason=form.cleaned_data["reason"]
                )
            except services.RetrainingError as error:
                form.add_error("reason" if error.field == "reason" else None, error.message)
                status = error.status_code
            else:
                messages.success(request, f"Retraining request #{created.pk} opened.")
                return redirect("retraining-request", pk=created.pk)
        else:
            status = 400
    return _model_page(request, model, form, status)


@login_required
@require_POST
def model_rollback(request, slug: str) -> HttpResponse:
    model = _model_for(request.user, slug)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why you roll back.")
        return _model_page(request, model, ReasonForm(), status=400)
    try:
        rolled = services.version_rollback(
            model=model, user=request.user, reason=form.cleaned_data["reason"]
        )
    except services.RetrainingError as error:
        messages.error(request, error.message)
        return _model_page(request, model, ReasonForm(), status=error.status_code)
    messages.success(
        request, f"{model.slug} is back on {rolled.previous_version.label}; approvers are told."
    )
    return redirect("retraining-request", pk=rolled.pk)


def _request_page(request, retraining, *, sign_form=None, cancel_form=None, status=200):
    """Every form on the page is offered only to whom its POST handler's service allows, with
    the same selector, so the page never offers what the server refuses."""
    user = request.user
    model = retraining.model
    report = getattr(retraining, "validation_report", None)
    signoffs = list(retraining.signoffs.select_related("user"))
    approvals = [s for s in signoffs if s.decision == SignOffDecision.APPROVE]
    context = {
        "retraining": retraining,
        "model": retraining.model,
        "timeline": retraining_timeline(retraining),
        "report": report,
        "chart": metric_comparison_svg(report.metrics) if report else None,
        "signoffs": signoffs,
        "approvals": len(approvals),
        "approvers": list(approvers_of(retraining.model)),
        "pipeline": pipeline_delivery_for(retraining),
        "may_resend": user_is_owner(user, model) and pipeline_resend_refusal(retraining) is None,
        "may_approve": user_may_approve(user, model),
        "may_reject": user_may_reject(user, model),
        "has_signed": any(s.user_id == user.pk for s in signoffs),
        "is_requester": retraining.requested_by_id == user.pk,
        "may_cancel": retraining.is_open
        and (user_is_owner(user, retraining.model) or retraining.requested_by_id == user.pk),
        "may_validate": retraining.status == RetrainingStatus.CANDIDATE_REGISTERED
        and user_may_approve(user, retraining.model),
        "may_promote": retraining.status == RetrainingStatus.APPROVED
        and user_may_approve(user, retraining.model),
        "rollback_target": rollback_target_for(retraining.model)
        if user_is_owner(user, retraining.model)
        else None,
        "sign_form": sign_form or SignOffForm(),
        "cancel_form": cancel_form or ReasonForm(),
        "rollback_form": ReasonForm(),
    }
    return render(request, "models_registry/retraining/request.html", context, status=status)


@login_required
def request_detail(request, pk: int) -> HttpResponse:
    return _request_page(request, _request_for(request.user, pk))


@login_required
@require_POST
def request_sign(request, pk: int) -> HttpResponse:
    retraining = _request_for(request.user, pk)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        return _request_page(request, retraining, sign_form=form, status=400)
    try:
        retraining = services.retraining_sign(
            request=retraining,
            user=request.user,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
        )
    except services.RetrainingError as error:
        form.add_error("comment" if error.field == "comment" else None, error.message)
        return _request_page(request, retraining, sign_form=form, status=error.status_code)
    messages.success(request, f"Signed: {form.cleaned_data['decision']}.")
    return redirect("retraining-request", pk=retraining.pk)


def _request_action(request, pk: int, act, done) -> HttpResponse:
    """A form-less action on the request page: run ``act`` (a service call); on success say
    ``done(result)`` and go back to the page, on refusal show the page with the reason."""
    retraining = _request_for(request.user, pk)
    try:
        result = act(retraining)
    except services.RetrainingError as error:
        messages.error(request, error.message)
        return _request_page(request, retraining, status=error.status_code)
    messages.success(request, done(result))
    return redirect("retraining-request", pk=retraining.pk)


@login_required
@require_POST
def request_promote(request, pk: int) -> HttpResponse:
    return _request_action(
        request,
        pk,
        lambda r: services.retraining_promote(
            request=r, actor=Actor.user(request.user), user=request.user
        ),
        lambda promoted: f"{promoted.candidate.label} is now the active version.",
    )


@login_required
@require_POST
def request_validate(request, pk: int) -> HttpResponse:
    return _request_action(
        request,
        pk,
        lambda r: services.retraining_validation_start(request=r, user=request.user),
        lambda _: "Validation started.",
    )


@login_required
@require_POST
def request_pipeline_resend(request, pk: int) -> HttpResponse:
    return _request_action(
        request,
        pk,
        lambda r: services.retraining_pipeline_resend(request=r, user=request.user),
        lambda _: "Sent to the pipeline again; its delivery is shown below.",
    )


@login_required
@require_POST
def request_cancel(request, pk: int) -> HttpResponse:
    retraining = _request_for(request.user, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _request_page(request, retraining, cancel_form=form, status=400)
    try:
        services.retraining_cancel(
            request=retraining, user=request.user, reason=form.cleaned_data["reason"]
        )
    except services.RetrainingError as error:
        form.add_error(None, error.message)
        return _request_page(request, retraining, cancel_form=form, status=error.status_code)
    messages.success(request, "Request cancelled.")
    return redirect("retraining-request", pk=retraining.pk)


@login_required
def inbox(request) -> HttpResponse:
    mine = retraining_requests_visible_to(request.user)
    return render(
        request,
        "models_registry/retraining/inbox.html",
        {
            "waiting": retraining_inbox_for(request.user),
            "recent": mine.order_by("-updated_at")[:25],
        },
    )
