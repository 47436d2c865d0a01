"""The review queue: claim, renew, release, and the expiry of leases.

A claim is one SQL statement that the database settles (DESIGN invariant 3):

- PostgreSQL: ``UPDATE ... FROM (SELECT ... ORDER BY ... FOR UPDATE SKIP LOCKED LIMIT 1)``.
  Concurrent reviewers skip each other's locked candidate instead of queueing behind it, and
  the subquery also hands back the previous holder so a lease taken over after it ran out is
  audited as expired. The audit events are inserted by the same statement, so a claim is one
  round trip and one transaction: claim and event are written together or not at all.
- SQLite (the demo database) has no ``SKIP LOCKED``: the claim picks the next candidate and
  then runs a conditional ``UPDATE ... WHERE id = ? AND <still claimable>`` that only one
  writer can win; a loser moves on to the next candidate. Its events are written by
  ``audit_events_record`` in the same transaction.

A lease that runs out makes the item claimable again at once (the claim's WHERE clause reads
``lease_expires_at <= now``); no sweeper has to run first. ``review_leases_expire`` only tidies
up and records the expiry of leases nobody has taken over yet.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import EventSpec, audit_events_record
from models_registry.models import MLModel
from reviewapp.models import OWNER_STAGES, ReviewAction, ReviewItem, ReviewItemStatus

ITEM = "reviewapp.reviewitem"


def item_event(action: str, actor: Actor, item, payload: dict) -> EventSpec:
    """An audit event about a review item, in its model's chain (the queue's and the
    decisions' events alike)."""
    return EventSpec(
        action=action,
        actor=actor,
        object_type=ITEM,
        object_id=item.pk,
        model=item.model,
        payload=payload,
    )


class ReviewError(Exception):
    """A review action that is refused; ``field`` names the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotLeaseHolder(ReviewError):
    pass


class AlreadyDecided(ReviewError):
    pass


class NotAllowed(ReviewError):
    pass


@dataclass(frozen=True)
class Workable:
    """The models a person may work (as reviewer, owner or backup owner), and those of them
    they own or back up (who alone take escalated and disputed items)."""

    all_model_ids: tuple[int, ...]
    owned_model_ids: tuple[int, ...]


def workable_models(user) -> Workable:
    """One query. The SQLite claim uses it; on PostgreSQL the same rule is inside the claim."""
    rows = (
        MLModel.objects.filter(Q(reviewers=user) | Q(owner=user) | Q(backup_owner=user))
        .values_list("pk", "owner_id", "backup_owner_id")
        .distinct()
    )
    all_ids, owned = set(), set()
    for pk, owner_id, backup_id in rows:
        all_ids.add(pk)
        if user.pk in (owner_id, backup_id):
            owned.add(pk)
    return Workable(tuple(sorted(all_ids)), tuple(sorted(owned)))


def lease_for(model_id: int) -> timedelta:
    seconds = MLModel.objects.filter(pk=model_id).values_list("lease_seconds", flat=True).first()
    return timedelta(seconds=seconds or 600)


def _in_list(values) -> tuple[str, list]:
    if not values:
        return "(NULL)", []
    return "(" + ", ".join(["%s"] * len(values)) + ")", list(values)


def _claim_filter(user, workable: Workable, now: datetime, item_id: int | None, skip_ids):
    """WHERE clause (and params) of "items this person may claim now"."""
    all_sql, all_params = _in_list(workable.all_model_ids)
    owned_sql, owned_params = _in_list(workable.owned_model_ids)
    stages_sql, stages_params = _in_list([str(s) for s in OWNER_STAGES])
    where = [
        "c.status = %s",
        "(c.lease_expires_at IS NULL OR c.lease_expires_at <= %s)",
        f"c.model_id IN {all_sql}",
        f"(c.stage NOT IN {stages_sql} OR c.model_id IN {owned_sql})",
        # Nobody works the same item twice: a second opinion must come from someone else.
        "NOT EXISTS (SELECT 1 FROM reviewapp_reviewaction a "
        "WHERE a.item_id = c.id AND a.user_id = %s)",
    ]
    params = [
        ReviewItemStatus.PENDING,
        now,
        *all_params,
        *stages_params,
        *owned_params,
        user.pk,
    ]
    if item_id is not None:
        where.append("c.id = %s")
        params.append(item_id)
    if skip_ids:
        skip_sql, skip_params = _in_list(list(skip_ids))
        where.append(f"c.id NOT IN {skip_sql}")
        params.extend(skip_params)
    return " AND ".join(where), params


_ORDER = "ORDER BY c.priority DESC, c.due_at ASC, c.id ASC"


# One branch of the claim's candidate search, per model: the first item in queue order among
# the unclaimed ones (index ``review_queue_order``) or among those whose lease ran out (index
# ``review_queue_leases``; normally none). Held items are in neither, so a claim never steps
# over them however many are held.
_PG_CANDIDATE = """
SELECT c.id, c.priority, c.due_at,
       c.claimed_by_id AS previous_holder, c.lease_expires_at AS previous_expiry
  FROM reviewapp_reviewitem c
 WHERE c.model_id = m.id
   AND c.status = 'pending'
   AND {holder}
   AND (c.stage NOT IN ('adjudication', 'escalated')
        OR m.owner_id = %(user)s OR m.backup_owner_id = %(user)s)
   AND NOT EXISTS (SELECT 1 FROM reviewapp_reviewaction a
                    WHERE a.item_id = c.id AND a.user_id = %(user)s)
   {extra}
 {order}
 LIMIT 1
   FOR UPDATE OF c SKIP LOCKED
"""

# Queue order for "the next item". One item asked for by id has none, so the planner finds it
# by primary key instead of walking the queue in order until it meets it.
_QUEUE_ORDER = "ORDER BY c.priority DESC, c.due_at ASC"

# The claim and its audit events in one statement: on PostgreSQL a claim is one round trip and
# its own transaction (autocommit), so a claim can never be recorded without its event or the
# other way round. The event columns and payloads are those ``audit_events_record`` writes.
_PG_CLAIM = """
WITH claimed AS (
    UPDATE reviewapp_reviewitem AS t
       SET claimed_by_id = %(user)s,
           claimed_at = %(now)s,
           lease_expires_at = %(now)s + make_interval(secs => picked.lease_seconds)
      FROM (
            SELECT x.id, x.previous_holder, x.previous_expiry, m.lease_seconds, m.slug,
                   m.owner_id, m.backup_owner_id
              FROM models_registry_mlmodel m
             CROSS JOIN LATERAL ({candidates}) AS x
             WHERE m.owner_id = %(user)s OR m.backup_owner_id = %(user)s
                OR EXISTS (SELECT 1 FROM models_registry_mlmodel_reviewers r
                            WHERE r.mlmodel_id = m.id AND r.user_id = %(user)s)
             ORDER BY x.priority DESC, x.due_at ASC
             LIMIT 1
           ) AS picked
     WHERE t.id = picked.id
 RETURNING {columns}, picked.previous_holder, picked.previous_expiry,
           picked.lease_seconds, picked.slug, picked.owner_id, picked.backup_owner_id
),
audited AS (
    INSERT INTO audit_auditevent (occurred_at, actor_type, actor_id, actor_label, action,
                                  object_type, object_id, model_id, chain, payload, prev_hash)
    SELECT %(now)s, e.actor_type, e.actor_id, e.actor_label, e.action,
           %(object_type)s, claimed.id::text, claimed.model_id, claimed.slug, e.payload, ''
      FROM claimed
     CROSS JOIN LATERAL (VALUES
           (1, %(system_type)s, %(system_id)s, %(system_label)s, 'review.lease_expired',
            jsonb_build_object('holder_id', claimed.previous_holder,
                               'lease_expired_at', {expired_iso})),
           (2, %(user_type)s, %(user_id)s, %(user_label)s, 'review.claimed',
            jsonb_build_object('prediction_id', claimed.prediction_id, 'stage', claimed.stage,
                               'lease_expires_at', {expires_iso}))
           ) AS e(n, actor_type, actor_id, actor_label, action, payload)
     WHERE e.n = 2 OR claimed.previous_holder IS NOT NULL
     ORDER BY e.n
)
SELECT * FROM claimed
"""


def _pg_iso(column: str) -> str:
    """SQL for a timestamp as ``datetime.isoformat()`` writes one in UTC (as the Python
    audit path does), so payloads read the same whichever path wrote them."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'"


@functools.cache
def pg_claim_sql(*, by_id: bool, skipping: bool) -> str:
    """The claim statement, built once per shape (a claim runs it many times a second)."""
    extra = " ".join(
        ([" AND c.id = %(item)s"] if by_id else [])
        + ([" AND NOT (c.id = ANY(%(skip)s))"] if skipping else [])
    )
    if by_id:
        # One item asked for by id: found by primary key, free or with its lease run out.
        candidates = _PG_CANDIDATE.format(
            holder="(c.claimed_by_id IS NULL OR c.lease_expires_at <= %(now)s)",
            extra=extra,
            order="",
        )
    else:
        unclaimed = _PG_CANDIDATE.format(
            holder="c.claimed_by_id IS NULL", extra=extra, order=_QUEUE_ORDER
        )
        lapsed = _PG_CANDIDATE.format(
            holder="c.claimed_by_id IS NOT NULL AND c.lease_expires_at <= %(now)s",
            extra=extra,
            order=_QUEUE_ORDER,
        )
        candidates = (
            f"SELECT * FROM ({unclaimed}) AS unclaimed UNION ALL SELECT * FROM ({lapsed}) AS lapsed"
        )
    columns = ", ".join(f"t.{f.column}" for f in ReviewItem._meta.concrete_fields)
    return _PG_CLAIM.format(
        candidates=candidates,
        columns=columns,
        expired_iso=_pg_iso("claimed.previous_expiry"),
        expires_iso=_pg_iso("claimed.lease_expires_at"),
    )


def pg_claim_params(*, user_id: int, claimant: Actor, now, item_id=None, skip_ids=()) -> dict:
    """The parameters of ``pg_claim_sql``'s statement (the queue benchmark sends it too)."""
    queue = Actor.system("review queue")
    return {
        "user": user_id,
        "now": now,
        "item": item_id,
        "skip": list(skip_ids),
        "object_type": ITEM,
        "user_type": claimant.type,
        "user_id": claimant.id,
        "user_label": claimant.label,
        "system_type": queue.type,
        "system_id": queue.id,
        "system_label": queue.label,
    }


def _claim_postgresql(user, now, item_id, skip_ids) -> ReviewItem | None:
    """The claim as one statement: who may work what, what comes first, the lock, the audit.

    Per model the reviewer may work, the first unclaimed item and the first item whose lease
    ran out are picked by index scans in queue order with ``FOR UPDATE SKIP LOCKED`` (a row
    another claim is taking is skipped, not waited for); the best of those is updated and
    returned, and ``review.claimed`` (after ``review.lease_expired`` when a lapsed lease is
    taken over) is inserted by the same statement. A person working several models briefly
    locks up to two candidates per model, released when the statement ends.
    """
    params = pg_claim_params(
        user_id=user.pk, claimant=Actor.user(user), now=now, item_id=item_id, skip_ids=skip_ids
    )
    sql = pg_claim_sql(by_id=item_id is not None, skipping=bool(skip_ids))
    fields = ReviewItem._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    count = len(fields)
    item = ReviewItem.from_db(connection.alias, [f.attname for f in fields], row[:count])
    _previous_holder, _previous_expiry, lease_seconds, slug, owner_id, backup_id = row[count:]
    item.model = MLModel.from_db(
        connection.alias,
        ["id", "slug", "lease_seconds", "owner_id", "backup_owner_id"],
        [item.model_id, slug, lease_seconds, owner_id, backup_id],
    )
    return item


def _claim_sqlite(user, workable, now, item_id, skip_ids):
    where, params = _claim_filter(user, workable, now, item_id, skip_ids)
    tried: list[int] = []
    with connection.cursor() as cursor:
        for _ in range(20):
            extra = ""
            extra_params: list = []
            if tried:
                tried_sql, extra_params = _in_list(tried)
                extra = f" AND c.id NOT IN {tried_sql}"
            cursor.execute(
                "SELECT c.id, c.claimed_by_id, c.lease_expires_at, m.lease_seconds "
                "FROM reviewapp_reviewitem c JOIN models_registry_mlmodel m ON m.id = c.model_id "
                f"WHERE {where}{extra} {_ORDER} LIMIT 1",
                [*params, *extra_params],
            )
            row = cursor.fetchone()
            if row is None:
                return None
            candidate, previous_holder, previous_expiry, lease_seconds = row
            expires = now + timedelta(seconds=lease_seconds)
            # The conditional UPDATE: it matches only while the item is still claimable, so
            # of two writers that picked the same candidate exactly one wins.
            cursor.execute(
                "UPDATE reviewapp_reviewitem SET claimed_by_id = %s, claimed_at = %s, "
                "lease_expires_at = %s WHERE id = %s AND status = %s "
                "AND (lease_expires_at IS NULL OR lease_expires_at <= %s)",
                [user.pk, now, expires, candidate, ReviewItemStatus.PENDING, now],
            )
            if cursor.rowcount == 1:
                item = ReviewItem.objects.select_related("model").get(pk=candidate)
                return item, previous_holder, previous_expiry
            tried.append(candidate)
    return None


def _claim(user, *, item_id: int | None = None, skip_ids=()) -> ReviewItem | None:
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_postgresql(user, now, item_id, skip_ids)
    workable = workable_models(user)
    if not workable.all_model_ids:
        return None
    with transaction.atomic():
        claimed = _claim_sqlite(user, workable, now, item_id, skip_ids)
        if claimed is None:
            return None
        item, previous_holder, previous_expiry = claimed
        events = []
        if previous_holder is not None:
            events.append(_expired_event(item, previous_holder, previous_expiry))
        events.append(
            item_event(
                "review.claimed",
                Actor.user(user),
                item,
                {
                    "prediction_id": item.prediction_id,
                    "stage": item.stage,
                    "lease_expires_at": _iso(item.lease_expires_at),
                },
            )
        )
        audit_events_record(events)
    return item


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.isoformat()


def _expired_event(item: ReviewItem, previous_holder, previous_expiry) -> EventSpec:
    return item_event(
        "review.lease_expired",
        Actor.system("review queue"),
        item,
        {"holder_id": previous_holder, "lease_expired_at": _iso(previous_expiry)},
    )


def review_item_claim_next(*, user, skip_ids=()) -> ReviewItem | None:
    """Give ``user`` the most urgent item they may work (highest priority, then earliest
    due), under a lease; None when there is nothing for them."""
    return _claim(user, skip_ids=skip_ids)


def review_item_open(*, user, item: ReviewItem) -> ReviewItem:
    """Open one item: claim it if it is free, keep it if the user holds it already.

    Returns the item as it is now; the caller compares ``claimed_by`` with the user to know
    whether they hold it or someone else does.
    """
    now = timezone.now()
    if item.status == ReviewItemStatus.PENDING and not item.lease_held_by(user, now):
        claimed = _claim(user, item_id=item.pk)
        if claimed is not None:
            return claimed
    return ReviewItem.objects.select_related("model", "claimed_by").get(pk=item.pk)


@transaction.atomic
def review_item_renew(*, user, item: ReviewItem) -> datetime:
    """Extend the holder's lease while the page is open; refused once someone else holds it.

    A holder whose lease lapsed may renew it as long as nobody took the item over meanwhile.
    """
    now = timezone.now()
    expires = now + lease_for(item.model_id)
    renewed = ReviewItem.objects.filter(
        pk=item.pk, status=ReviewItemStatus.PENDING, claimed_by=user
    ).update(lease_expires_at=expires)
    if not renewed:
        raise NotLeaseHolder("You no longer hold this item.")
    audit_events_record(
        [
            item_event(
                "review.lease_renewed",
                Actor.user(user),
                item,
                {"lease_expires_at": expires.isoformat()},
            )
        ]
    )
    return expires


@transaction.atomic
def review_item_release(*, user, item: ReviewItem) -> bool:
    """Hand the item back to the queue; False when the user did not hold it."""
    released = ReviewItem.objects.filter(
        pk=item.pk, status=ReviewItemStatus.PENDING, claimed_by=user
    ).update(claimed_by=None, lease_expires_at=None, claimed_at=None)
    if released:
        audit_events_record(
            [
                item_event(
                    "review.released", Actor.user(user), item, {"prediction_id": item.prediction_id}
                )
            ]
        )
    return bool(released)


@transaction.atomic
def review_leases_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Clear leases that ran out and nobody took over, recording each expiry once.

    Only housekeeping: an expired lease is claimable whether or not this has run. Rows are
    locked with SKIP LOCKED so a concurrent claim of the same item wins without waiting.
    """
    now = now or timezone.now()
    expired = list(
        ReviewItem.objects.select_for_update(skip_locked=True)
        .filter(
            status=ReviewItemStatus.PENDING,
            claimed_by__isnull=False,
            lease_expires_at__lte=now,
        )
        .select_related("model")
        .order_by("lease_expires_at")[:limit]
    )
    if not expired:
        return 0
    events = [_expired_event(i, i.claimed_by_id, i.lease_expires_at) for i in expired]
    ReviewItem.objects.filter(pk__in=[i.pk for i in expired], lease_expires_at__lte=now).update(
        claimed_by=None, lease_expires_at=None, claimed_at=None
    )
    audit_events_record(events)
    return len(expired)


def reviewed_by(item: ReviewItem) -> list[str]:
    """Usernames of everyone who acted on the item, in order."""
    names = []
    for action in ReviewAction.objects.filter(item=item).select_related("user"):
        name = action.user.get_username()
        if name not in names:
            names.append(name)
    return names
