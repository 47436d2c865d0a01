"""Alert webhooks reach a pager bridge signed like decision callbacks, with an event id and a
body that stay the same on every retry and replay; a rule with a webhook URL needs a secret.
No transaction is open while a POST waits for its answer, and an attempt whose worker stopped
is made again once its lease runs out."""

import json
import logging
from datetime import datetime, timedelta

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from audit.models import AuditEvent
from models_registry.models import (
    Alert,
    AlertMetric,
    AlertNotification,
    AlertRule,
    Comparison,
)
from models_registry.monitoring.alerts import (
    NotificationReplayError,
    Outcome,
    alert_notification_replay,
    alert_resolve,
    alerts_evaluate,
    delivery_lease,
    notification_attempt_record,
    notification_claim_next,
    notifications_deliver,
)
from reviewapp.services.webhooks import verify
from tests.models_registry.test_monitoring_alerts import hour, rule_for, snapshot

pytestmark = pytest.mark.django_db

SECRET = "whsec-alerts-0123456789"
NOTIFICATIONS = "/admin/models_registry/alertnotification/"


@pytest.fixture
def paged_rule(loan_model, receiver):
    rule = rule_for(loan_model, webhook_url=receiver.url, webhook_secret=SECRET)
    rule.save()
    return rule


def breach(model, now=None):
    """Opens the rule's alert: 15% of 200 predictions broke the contract in the last hour."""
    now = now or timezone.now()
    snapshot(model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=model, now=now)


def the_webhook() -> AlertNotification:
    return AlertNotification.objects.get(channel="webhook")


def test_a_rule_with_a_webhook_url_and_no_secret_is_refused_on_the_secret_field(loan_model):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert list(refused.value.message_dict) == ["webhook_secret"]


def test_a_rule_with_a_secret_or_without_a_webhook_is_valid(loan_model):
    signed = rule_for(
        loan_model, webhook_url="https://pager.example.com/hooks", webhook_secret=SECRET
    )
    signed.full_clean()
    rule_for(loan_model).full_clean()


def test_the_admin_shows_the_missing_secret_on_its_field(owner_client, loan_model):
    response = owner_client.post(
        "/admin/models_registry/alertrule/add/",
        {
            "model": loan_model.pk,
            "name": "Paged",
            "metric": AlertMetric.OVERRIDE_RATE,
            "comparison": Comparison.GT,
            "threshold": 0.2,
            "window_seconds": 86400,
            "min_sample_size": 0,
            "enabled": "on",
            "webhook_url": "https://pager.example.com/hooks",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["webhook_secret"]
    assert not AlertRule.objects.filter(name="Paged").exists()


def test_an_old_unsigned_rule_toggled_in_the_list_gets_the_error_on_its_row(
    owner_client, loan_model
):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    rule.save()  # as rules were saved before secrets existed
    response = owner_client.post(
        "/admin/models_registry/alertrule/",
        {
            "form-TOTAL_FORMS": 1,
            "form-INITIAL_FORMS": 1,
            "form-0-id": rule.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    [row] = response.context["cl"].formset.forms
    assert "needs a secret" in str(row.non_field_errors())
    rule.refresh_from_db()
    assert rule.enabled


def test_the_audit_trail_says_the_secret_changed_but_not_what_it_is(owner_client, loan_model):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    rule.save()
    form = {
        "model": loan_model.pk,
        "name": rule.name,
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "window_seconds": rule.window_seconds,
        "min_sample_size": rule.min_sample_size,
        "enabled": "on",
        "webhook_url": rule.webhook_url,
        "webhook_secret": SECRET,
    }
    response = owner_client.post(f"/admin/models_registry/alertrule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="alertrule.changed")
    assert event.payload["changes"]["webhook_secret"] == {"before": "", "after": "***"}
    assert SECRET not in json.dumps(event.payload)


# --- Delivery ------------------------------------------------------------------------------


def test_an_alert_webhook_is_signed_with_the_rules_secret_and_names_its_event(
    loan_model, paged_rule, receiver
):
    breach(loan_model)

    notifications_deliver()

    [request] = receiver.requests
    body, headers = request["body"], request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert verify(SECRET, body, headers["Countersign-Signature"])
    assert not verify("another-secret", body, headers["Countersign-Signature"])
    payload = json.loads(body)
    hook = the_webhook()
    assert headers["Countersign-Event-Id"] == payload["event_id"] == str(hook.event_id)
    assert payload["type"] == payload["event"] == "alert.opened"
    assert payload["model"] == "loan-default" and payload["rule"] == paged_rule.name
    assert payload["value"] == pytest.approx(0.15) and payload["sample_size"] == 200
    assert hook.status == "sent" and hook.last_status_code == 200


def test_each_notification_has_its_own_event_id(loan_model, paged_rule, receiver):
    breach(loan_model)
    later = timezone.now() + timedelta(hours=4)
    snapshot(loan_model, hour(later, 1), volume=300, violating=3)
    alerts_evaluate(model=loan_model, now=later)  # recovers: alert.resolved

    notifications_deliver()

    ids = [r["headers"]["Countersign-Event-Id"] for r in receiver.requests]
    types = [json.loads(r["body"])["type"] for r in receiver.requests]
    assert types == ["alert.opened", "alert.resolved"] and len(set(ids)) == 2


def test_a_failing_receiver_is_retried_with_the_same_event_id(loan_model, paged_rule, receiver):
    breach(loan_model)
    receiver.answers = [503]
    first_try = timezone.now()

    notifications_deliver(now=first_try)

    hook = the_webhook()
    assert hook.status == "pending" and hook.attempts == 1
    assert hook.last_status_code == 503 and "HTTP 503" in hook.last_error
    assert hook.next_attempt_at == first_try + timedelta(seconds=60)

    receiver.answers = [204]
    notifications_deliver(now=first_try + timedelta(seconds=60))

    hook.refresh_from_db()
    assert hook.status == "sent" and hook.attempts == 2
    assert hook.last_status_code == 204 and hook.last_error == ""
    first, second = receiver.requests
    assert (
        first["headers"]["Countersign-Event-Id"]
        == second["headers"]["Countersign-Event-Id"]
        == str(hook.event_id)
    )
    assert json.loads(first["body"])["event_id"] == json.loads(second["body"])["event_id"]
    assert verify(SECRET, second["body"], second["headers"]["Countersign-Signature"])


def test_it_backs_off_1_2_4_8_minutes_then_gives_up_after_five_attempts(
    loan_model, paged_rule, receiver
):
    breach(loan_model)
    receiver.answers = [500]
    at = timezone.now()
    waits = []
    for _ in range(5):
        notifications_deliver(now=at)
        hook = the_webhook()
        if hook.status == "pending":
            waits.append(hook.next_attempt_at - at)
            at = hook.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert hook.status == "failed" and hook.attempts == 5 and hook.last_status_code == 500
    assert len(receiver.requests) == 5
    assert AlertNotification.objects.get(channel="email").status == "sent"


def test_the_body_is_fixed_when_the_notification_is_created(loan_model, paged_rule, receiver):
    breach(loan_model)
    hook = the_webhook()
    assert hook.payload["event_id"] == str(hook.event_id)
    assert hook.payload["type"] == "alert.opened" and hook.payload["status"] == "open"

    notifications_deliver()

    [request] = receiver.requests
    assert json.loads(request["body"]) == hook.payload


def test_a_retry_carries_the_first_attempts_body_byte_for_byte_after_the_alert_was_resolved(
    loan_model, paged_rule, receiver, owner
):
    breach(loan_model)
    receiver.answers = [503]
    first_try = timezone.now()
    notifications_deliver(now=first_try)
    alert_resolve(alert=Alert.objects.get(), user=owner, note="Fixed upstream.")
    receiver.answers = [200]

    notifications_deliver(now=first_try + timedelta(minutes=1))

    first, second = receiver.requests
    assert second["body"] == first["body"]
    payload = json.loads(second["body"])
    assert payload["type"] == "alert.opened" and payload["status"] == "open"
    assert the_webhook().status == "sent"


def test_a_notification_queued_before_bodies_were_stored_gets_its_body_once_at_first_send(
    loan_model, paged_rule, receiver, owner
):
    breach(loan_model)
    AlertNotification.objects.update(payload={})  # as rows created before the field existed
    receiver.answers = [503]
    first_try = timezone.now()

    notifications_deliver(now=first_try)

    hook = the_webhook()
    assert hook.payload["event_id"] == str(hook.event_id)
    assert hook.payload["type"] == "alert.opened" and hook.payload["status"] == "open"
    assert AlertNotification.objects.get(channel="email").payload["subject"]
    alert_resolve(alert=Alert.objects.get(), user=owner, note="Fixed upstream.")
    receiver.answers = [200]
    notifications_deliver(now=first_try + timedelta(minutes=1))
    first, second = receiver.requests
    assert second["body"] == first["body"]
    assert json.loads(first["body"]) == hook.payload


def test_a_redirect_is_not_followed_and_counts_as_a_failure(loan_model, paged_rule, receiver):
    breach(loan_model)
    receiver.answers = [302]

    notifications_deliver()

    hook = the_webhook()
    assert hook.status == "pending" and hook.last_status_code == 302
    assert len(receiver.requests) == 1


def test_an_old_rule_without_a_secret_still_sends_unsigned_and_says_so(
    loan_model, receiver, caplog
):
    rule_for(loan_model, webhook_url=receiver.url).save()  # saved before secrets existed
    breach(loan_model)

    with caplog.at_level(logging.WARNING, logger="models_registry.monitoring.alerts"):
        notifications_deliver()

    [request] = receiver.requests
    assert "Countersign-Signature" not in request["headers"]
    assert request["headers"]["Countersign-Event-Id"] == str(the_webhook().event_id)
    warnings = [r for r in caplog.records if "sent unsigned" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


# --- An attempt: claimed, sent outside any transaction, recorded -----------------------------


def _raw_connection() -> psycopg.Connection:
    """A second connection to the test database, not Django's: it sees only committed rows
    and takes its own locks, as another worker would."""
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    return psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")})


def _look_from_another_connection(sender_pid: int, notification_pk: int) -> dict:
    """What another session sees of the sender and of the row while the POST is in flight."""
    table = AlertNotification._meta.db_table
    with _raw_connection() as other, other.cursor() as cursor:
        cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [sender_pid])
        [sender_state] = cursor.fetchone()
        try:
            cursor.execute(
                f"SELECT id FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [notification_pk]
            )
            row_locked = False
        except psycopg.errors.LockNotAvailable:
            row_locked = True
        other.rollback()  # let go of the lock before the sender records its outcome
    return {"sender": sender_state, "row_locked": row_locked}


@pytest.mark.django_db(transaction=True)  # the claim must really commit to be seen
def test_no_transaction_is_open_and_the_row_is_not_locked_while_the_post_is_in_flight(
    loan_model, paged_rule, receiver
):
    breach(loan_model)
    hook = the_webhook()
    connection.ensure_connection()
    sender_pid = connection.connection.info.backend_pid
    seen = []

    def while_the_sender_waits(request):
        try:
            seen.append(_look_from_another_connection(sender_pid, hook.pk))
        except Exception as error:  # an assertion in this thread would only drop the answer
            seen.append(repr(error))

    receiver.on_request = while_the_sender_waits
    notifications_deliver()

    assert seen == [{"sender": "idle", "row_locked": False}]
    hook.refresh_from_db()
    assert hook.status == "sent" and hook.attempts == 1 and hook.last_status_code == 200


def test_an_attempt_is_counted_when_it_is_taken_and_keeps_other_workers_off_for_its_lease(
    loan_model, paged_rule, receiver
):
    breach(loan_model)
    AlertNotification.objects.filter(channel="email").delete()  # only the webhook is queued
    taken_at = timezone.now()

    taken = notification_claim_next(now=taken_at)

    hook = the_webhook()
    assert taken.pk == hook.pk
    assert hook.status == "pending" and hook.attempts == 1
    assert hook.next_attempt_at == taken_at + delivery_lease()
    assert "attempt 1" in hook.last_error and "no outcome" in hook.last_error
    assert delivery_lease() > timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS)
    assert notification_claim_next(now=taken_at) is None


def test_an_attempt_that_never_finished_is_retried_after_its_lease_with_the_same_event_id(
    loan_model, paged_rule, receiver
):
    breach(loan_model)
    AlertNotification.objects.filter(channel="email").delete()  # only the webhook is queued
    taken_at = timezone.now()
    taken = notification_claim_next(now=taken_at)
    # The worker dies here: nothing is POSTed and no outcome is recorded.
    lease_ends = taken_at + delivery_lease()

    assert notifications_deliver(now=lease_ends - timedelta(seconds=1)) == 0
    assert receiver.requests == []
    assert notifications_deliver(now=lease_ends) == 1

    [request] = receiver.requests
    assert request["headers"]["Countersign-Event-Id"] == str(taken.event_id)
    assert json.loads(request["body"])["event_id"] == str(taken.event_id)
    hook = the_webhook()
    assert hook.status == "sent" and hook.attempts == 2 and hook.last_error == ""


def stop_five_workers_mid_send(model) -> datetime:
    """Five attempts taken and none reported, as if each worker died during its POST; returns
    when the fifth attempt's lease runs out."""
    breach(model)
    AlertNotification.objects.filter(channel="email").delete()  # only the webhook is queued
    taken_at = timezone.now()
    for _ in range(5):
        assert notification_claim_next(now=taken_at) is not None
        taken_at += delivery_lease()
    return taken_at


def test_a_notification_whose_fifth_attempt_never_reported_is_failed_not_taken_again(
    loan_model, paged_rule, receiver
):
    lease_ends = stop_five_workers_mid_send(loan_model)

    assert notification_claim_next(now=lease_ends) is None
    assert notifications_deliver(now=lease_ends + timedelta(hours=1)) == 0

    assert receiver.requests == []
    hook = the_webhook()
    assert hook.status == "failed" and hook.attempts == 5
    assert "never reported an outcome" in hook.last_error


def test_a_replay_gives_a_notification_failed_that_way_one_more_attempt(
    loan_model, paged_rule, receiver, owner
):
    lease_ends = stop_five_workers_mid_send(loan_model)
    notification_claim_next(now=lease_ends)  # finds it out of attempts and fails it

    alert_notification_replay(notification=the_webhook(), user=owner)
    assert notifications_deliver() == 1

    [request] = receiver.requests
    hook = the_webhook()
    assert request["headers"]["Countersign-Event-Id"] == str(hook.event_id)
    assert hook.status == "sent" and hook.attempts == 6


def test_a_late_outcome_from_an_attempt_that_outlived_its_lease_does_not_overwrite_the_next(
    loan_model, paged_rule, receiver
):
    breach(loan_model)
    AlertNotification.objects.filter(channel="email").delete()  # only the webhook is queued
    taken_at = timezone.now()
    slow = notification_claim_next(now=taken_at)
    receiver.answers = [503]
    notifications_deliver(now=taken_at + delivery_lease())  # attempt 2 fails, retry planned

    recorded = notification_attempt_record(
        notification=slow, attempt_at=taken_at, outcome=Outcome(status_code=200)
    )

    assert recorded is False
    hook = the_webhook()
    assert hook.status == "pending" and hook.attempts == 2 and hook.last_status_code == 503


# --- Replay --------------------------------------------------------------------------------


def fail_for_good(model, receiver):
    breach(model)
    receiver.answers = [500]
    at = timezone.now()
    for _ in range(5):
        notifications_deliver(now=at)
        at += timedelta(hours=1)
    hook = the_webhook()
    assert hook.status == "failed"
    return hook


def test_the_owner_replays_a_failed_webhook_from_the_admin_with_the_same_event_id(
    loan_model, paged_rule, receiver, owner, owner_client, django_capture_on_commit_callbacks
):
    hook = fail_for_good(loan_model, receiver)
    receiver.answers = [200]
    OrmQ.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            NOTIFICATIONS, {"action": "replay", "_selected_action": [hook.pk]}
        )

    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.status == "pending" and hook.attempts == 5
    assert hook.next_attempt_at <= timezone.now()
    [queued] = OrmQ.objects.all()
    assert queued.func() == "models_registry.monitoring.tasks.deliver_alert_notifications"
    event = AuditEvent.objects.get(action="alert.notification_replayed")
    assert event.actor_id == str(owner.pk) and event.chain == "loan-default"
    assert event.object_type == "models_registry.alertnotification"
    assert event.object_id == str(hook.pk)
    assert event.payload["event_id"] == str(hook.event_id)
    assert event.payload["previous_status"] == "failed"

    notifications_deliver()  # what the enqueued task does

    hook.refresh_from_db()
    assert hook.status == "sent" and hook.attempts == 6 and hook.last_status_code == 200
    ids = {r["headers"]["Countersign-Event-Id"] for r in receiver.requests}
    assert len(receiver.requests) == 6 and ids == {str(hook.event_id)}
    assert verify(
        SECRET,
        receiver.requests[-1]["body"],
        receiver.requests[-1]["headers"]["Countersign-Signature"],
    )


def test_a_delivered_webhook_can_be_replayed_for_a_receiver_that_lost_it(
    loan_model, paged_rule, receiver, owner
):
    breach(loan_model)
    notifications_deliver()
    hook = the_webhook()

    alert_notification_replay(notification=hook, user=owner)
    notifications_deliver()

    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["Countersign-Event-Id"] == second["headers"]["Countersign-Event-Id"]


def test_a_replay_sends_the_stored_body_not_the_alerts_state_at_replay_time(
    loan_model, paged_rule, receiver, owner
):
    breach(loan_model)
    notifications_deliver()
    alert_resolve(alert=Alert.objects.get(), user=owner, note="Fixed upstream.")

    alert_notification_replay(notification=the_webhook(), user=owner)
    notifications_deliver()

    first, replayed = receiver.requests
    assert replayed["body"] == first["body"]
    assert json.loads(replayed["body"]) == the_webhook().payload
    assert json.loads(replayed["body"])["status"] == "open"


def test_a_replay_that_fails_once_more_is_failed_again(loan_model, paged_rule, receiver, owner):
    hook = fail_for_good(loan_model, receiver)

    alert_notification_replay(notification=hook, user=owner)
    notifications_deliver()

    hook.refresh_from_db()
    assert hook.status == "failed" and hook.attempts == 6


def test_only_webhooks_that_are_not_on_their_way_can_be_replayed(
    loan_model, paged_rule, receiver, owner
):
    breach(loan_model)
    with pytest.raises(NotificationReplayError, match="still being delivered"):
        alert_notification_replay(notification=the_webhook(), user=owner)
    notifications_deliver()
    email = AlertNotification.objects.get(channel="email")
    with pytest.raises(NotificationReplayError, match="Only webhook"):
        alert_notification_replay(notification=email, user=owner)
    assert len(mail.outbox) == 1
    assert not AuditEvent.objects.filter(action="alert.notification_replayed").exists()


def test_an_outsider_neither_sees_nor_replays_anothers_notifications(
    loan_model, paged_rule, receiver, outsider, other_model, client
):
    hook = fail_for_good(loan_model, receiver)
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)

    listing = client.get(NOTIFICATIONS)
    client.post(NOTIFICATIONS, {"action": "replay", "_selected_action": [hook.pk]})

    assert listing.status_code == 200 and str(hook.event_id) not in listing.content.decode()
    hook.refresh_from_db()
    assert hook.status == "failed"
    assert not AuditEvent.objects.filter(action="alert.notification_replayed").exists()


def test_compliance_sees_notifications_but_cannot_replay_them(
    loan_model, paged_rule, receiver, compliance, client
):
    from django.contrib.auth.models import Permission

    hook = fail_for_good(loan_model, receiver)
    compliance.is_staff = True
    compliance.save()
    compliance.user_permissions.add(Permission.objects.get(codename="export_audit_trail"))
    client.force_login(compliance)

    listing = client.get(NOTIFICATIONS)
    client.post(NOTIFICATIONS, {"action": "replay", "_selected_action": [hook.pk]})

    assert str(hook.event_id) in listing.content.decode()
    assert "Replay the selected" not in listing.content.decode()
    hook.refresh_from_db()
    assert hook.status == "failed"
