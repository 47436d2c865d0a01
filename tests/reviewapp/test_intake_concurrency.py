"""Concurrent retries of one prediction store one row: the database decides, not Python."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from reviewapp.models import Prediction, ReviewItem
from tests.reviewapp.helpers import BATCH_URL, good_prediction, send


def _post_from_threads(secret, bodies, url=None):
    barrier = threading.Barrier(len(bodies))
    statuses = [None] * len(bodies)

    def worker(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        barrier.wait()
        try:
            statuses[i] = send(client, bodies[i], **({"url": url} if url else {})).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_identical_retries_store_one_prediction(scoring_service):
    body = good_prediction("race-1", confidence=0.2)
    statuses = _post_from_threads(scoring_service.secret, [body] * 8)
    assert sorted(statuses) == [200] * 7 + [201]
    assert Prediction.objects.filter(external_id="race-1").count() == 1
    assert ReviewItem.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_different_content_store_one_and_conflict_the_rest(
    scoring_service,
):
    bodies = [good_prediction("race-2", confidence=0.9 - i / 100) for i in range(6)]
    statuses = _post_from_threads(scoring_service.secret, bodies)
    assert sorted(statuses) == [201] + [409] * 5
    assert Prediction.objects.filter(external_id="race-2").count() == 1


@pytest.mark.django_db(transaction=True)
def test_overlapping_concurrent_batches_store_each_external_id_once(scoring_service):
    batches = [
        {"predictions": [good_prediction(f"ov-{j}") for j in range(i * 50, i * 50 + 150)]}
        for i in range(4)
    ]
    statuses = _post_from_threads(scoring_service.secret, batches, url=BATCH_URL)
    assert statuses == [200] * 4
    assert Prediction.objects.count() == 300
