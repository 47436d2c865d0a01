"""Snapshots: known drift is found, every statistic is scipy's, windows are measured once."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from scipy import stats

from models_registry.models import MonitoringSnapshot
from models_registry.monitoring.baseline import sample_frame
from models_registry.monitoring.snapshots import snapshot_measure, snapshot_take, snapshots_run
from reviewapp.models import Decision, Outcome
from tests.models_registry.monitoring_data import (
    a_closed_hour,
    current_frame,
    store_predictions,
    upload_baseline,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifted_window(loan_model):
    baseline = upload_baseline(loan_model)
    start = a_closed_hour()
    frame = current_frame(income_shift=10_000, shift_employment=True)
    store_predictions(loan_model, frame, start)
    return baseline, start, frame


def _psi_by_hand(expected, actual):
    e = np.clip(np.asarray(expected, float) / np.sum(expected), 1e-4, None)
    a = np.clip(np.asarray(actual, float) / np.sum(actual), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def test_it_flags_the_shifted_features_and_not_the_unshifted_one(drifted_window, loan_model):
    _, start, _ = drifted_window
    snapshot, created = snapshot_take(model=loan_model, window="hourly", start=start)
    assert created
    features = snapshot.drift["features"]
    assert features["income"]["drifted"] is True
    assert features["employment"]["drifted"] is True
    assert features["applicant_age"]["drifted"] is False
    assert snapshot.drift["tested"] == 3
    assert snapshot.drift_share == pytest.approx(2 / 3)
    assert snapshot.drift["thresholds"]["psi"] == 0.1
    # Personal data is neither profiled nor tested.
    assert "email" not in features


def test_an_unshifted_window_has_no_drift(loan_model):
    upload_baseline(loan_model)
    start = a_closed_hour()
    store_predictions(loan_model, current_frame(seed=9), start)
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    assert snapshot.drift["drifted"] == 0
    assert snapshot.drift_share == 0


def test_every_drift_statistic_equals_scipy_on_the_same_arrays(drifted_window, loan_model):
    baseline, start, frame = drifted_window
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    reference = sample_frame(baseline)
    for name in ("income", "applicant_age"):
        b = reference[name].to_numpy(float)
        c = frame[name].to_numpy(float)
        got = snapshot.drift["features"][name]
        ks = stats.ks_2samp(b, c)
        assert got["ks_statistic"] == pytest.approx(ks.statistic, rel=1e-12)
        assert got["ks_pvalue"] == pytest.approx(ks.pvalue, rel=1e-9)
        w = stats.wasserstein_distance(b, c)
        assert got["wasserstein"] == pytest.approx(w, rel=1e-12)
        assert got["wasserstein_normalized"] == pytest.approx(w / np.std(b), rel=1e-12)
        edges = np.concatenate(
            ([-np.inf], np.unique(np.quantile(b, np.arange(1, 10) / 10)), [np.inf])
        )
        expected = np.histogram(b, edges)[0]
        actual = np.histogram(c, edges)[0]
        assert got["psi"] == pytest.approx(_psi_by_hand(expected, actual), rel=1e-9)

    baseline_counts = baseline.profile["employment"]["frequencies"]
    current_counts = frame["employment"].value_counts().to_dict()
    categories = sorted(set(baseline_counts) | set(current_counts))
    table = [
        [baseline_counts.get(k, 0) for k in categories],
        [current_counts.get(k, 0) for k in categories],
    ]
    chi2 = stats.chi2_contingency(table, correction=False)
    got = snapshot.drift["features"]["employment"]
    assert got["chi2_statistic"] == pytest.approx(chi2.statistic, rel=1e-12)
    assert got["chi2_pvalue"] == pytest.approx(chi2.pvalue, rel=1e-9)
    assert got["psi"] == pytest.approx(_psi_by_hand(table[0], table[1]), rel=1e-9)


def test_categories_the_baseline_never_saw_are_counted(loan_model):
    upload_baseline(loan_model)
    start = a_closed_hour()
    frame = current_frame(seed=4)
    frame.loc[:99, "employment"] = "retired"
    store_predictions(loan_model, frame, start)
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    employment = snapshot.drift["features"]["employment"]
    assert employment["unseen_categories"] == 1
    assert employment["unseen_count"] == 100


def test_reading_in_small_chunks_gives_the_same_figures(drifted_window, loan_model, settings):
    _, start, _ = drifted_window
    end = start + timedelta(hours=1)
    whole = snapshot_measure(model=loan_model, window="hourly", start=start, end=end)
    settings.MONITORING_CHUNK_SIZE = 37
    chunked = snapshot_measure(model=loan_model, window="hourly", start=start, end=end)
    assert chunked["drift"] == whole["drift"]
    # A sum in another order may differ in the last bit; everything else is exact.
    assert chunked["metrics"]["confidence"].pop("mean") == pytest.approx(
        whole["metrics"]["confidence"].pop("mean"), rel=1e-12
    )
    assert chunked["metrics"] == whole["metrics"]


def test_a_window_is_measured_once_and_never_replaced(drifted_window, loan_model):
    _, start, _ = drifted_window
    first, created = snapshot_take(model=loan_model, window="hourly", start=start)
    store_predictions(loan_model, current_frame(rows=50, seed=3), start, prefix="late")
    again, created_again = snapshot_take(model=loan_model, window="hourly", start=start)
    assert created and not created_again
    assert again.pk == first.pk
    assert again.prediction_count == 600
    assert MonitoringSnapshot.objects.filter(model=loan_model, window="hourly").count() == 1


def test_a_window_that_has_not_closed_is_refused(loan_model):
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    with pytest.raises(ValueError, match="not closed"):
        snapshot_take(model=loan_model, window="hourly", start=start)


def test_quality_confidence_and_review_figures(loan_model):
    upload_baseline(loan_model)
    start = a_closed_hour()
    frame = current_frame(rows=100, seed=5)
    frame.loc[:9, "confidence"] = 0.1
    store_predictions(loan_model, frame.iloc[:60], start, violations_every=10)
    store_predictions(
        loan_model,
        frame.iloc[60:],
        start,
        prefix="r",
        status="in_review",
        reasons=[{"rule": "high_value", "value_amount": "20000"}],
    )
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    m = snapshot.metrics
    assert m["volume"] == 100
    assert m["status"] == {"auto_accepted": 60, "in_review": 40}
    assert m["review"]["by_reason"]["high_value"] == {"count": 40, "share": 0.4}
    assert m["contract"]["violating"] == 6
    assert m["contract"]["by_field"]["income"]["rate"] == pytest.approx(0.06)
    assert m["missing"]["postcode"] == {"count": 100, "rate": 1.0}
    assert m["confidence"]["mean"] == pytest.approx(frame["confidence"].mean())
    assert m["confidence"]["under_threshold"] == int((frame["confidence"] < 0.6).sum())
    assert m["confidence"]["quantiles"]["0.5"] == pytest.approx(frame["confidence"].median())


def test_accuracy_against_outcomes_and_decisions(loan_model):
    start = a_closed_hour()
    frame = current_frame(rows=8, seed=6)
    frame["output"] = [
        "approve",
        "approve",
        "approve",
        "decline",
        "decline",
        "approve",
        "decline",
        "approve",
    ]
    predictions = store_predictions(loan_model, frame, start)
    actual = [
        "approve",
        "decline",
        "approve",
        "decline",
        "approve",
        "approve",
        "decline",
        "decline",
    ]
    for prediction, truth in zip(predictions, actual, strict=True):
        outcome = Outcome.objects.create(prediction=prediction, actual=truth)
        Outcome.objects.filter(pk=outcome.pk).update(recorded_at=start + timedelta(minutes=30))
    Decision.objects.create(
        prediction=predictions[0],
        action="approve",
        final_output="approve",
        decided_by=["carol"],
        decided_at=start + timedelta(minutes=5),
    )
    Decision.objects.create(
        prediction=predictions[1],
        action="override",
        final_output="decline",
        decided_by=["carol"],
        decided_at=start + timedelta(minutes=6),
    )
    Decision.objects.create(
        prediction=predictions[2],
        action="reject",
        final_output=None,
        decided_by=["dave"],
        decided_at=start + timedelta(minutes=7),
    )
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    outcomes = snapshot.metrics["accuracy"]["outcomes"]
    # approve: tp 3 (0, 2, 5), fp 2 (1, 7), fn 1 (4); decline: tp 2 (3, 6), fp 1, fn 2.
    assert outcomes["n"] == 8
    assert outcomes["accuracy"] == pytest.approx(5 / 8)
    assert outcomes["per_label"]["approve"]["precision"] == pytest.approx(3 / 5)
    assert outcomes["per_label"]["approve"]["recall"] == pytest.approx(3 / 4)
    assert outcomes["per_label"]["approve"]["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert outcomes["per_label"]["decline"]["recall"] == pytest.approx(2 / 4)
    decisions = snapshot.metrics["accuracy"]["decisions"]
    assert decisions["n"] == 2 and decisions["accuracy"] == pytest.approx(0.5)
    review = snapshot.metrics["decisions"]
    assert review["by_action"] == {"approve": 1, "override": 1, "reject": 1}
    assert review["override_rate"] == pytest.approx(2 / 3)


def test_regression_models_get_mae_and_rmse(other_model):
    start = a_closed_hour()
    frame = current_frame(rows=4, seed=7)
    frame["output"] = [0.1, 0.8, 0.4, 0.9]
    predictions = store_predictions(other_model, frame, start)
    for prediction, truth in zip(predictions, [0, 1, 1, 0], strict=True):
        outcome = Outcome.objects.create(prediction=prediction, actual=truth)
        Outcome.objects.filter(pk=outcome.pk).update(recorded_at=start + timedelta(minutes=1))
    snapshot, _ = snapshot_take(model=other_model, window="hourly", start=start)
    errors = np.array([0.1, -0.2, -0.6, 0.9])
    outcomes = snapshot.metrics["accuracy"]["outcomes"]
    assert outcomes["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert outcomes["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert snapshot.drift == {"note": "no baseline uploaded yet", "share": None}


def test_the_run_fills_missing_windows_and_the_command_shows_progress(drifted_window, loan_model):
    now = timezone.now()
    first = snapshots_run(now=now, windows=["hourly"], backfill=3)
    again = snapshots_run(now=now, windows=["hourly"], backfill=3)
    assert (first.created, again.created, again.existing) == (3, 0, 3)
    from io import StringIO

    out = StringIO()
    call_command("monitoring_snapshot", "--window", "hourly", "--backfill", "3", stdout=out)
    text = out.getvalue()
    assert "[1/1] loan-default" in text
    assert "already there" in text
    assert "0 snapshot(s) taken, 3 already there." in text


def test_odd_text_values_survive_the_database_read(loan_model):
    upload_baseline(loan_model)
    start = a_closed_hour()
    frame = current_frame(rows=60, seed=8)
    odd = 'back\\slash\ttab\nnewline "quoted" NA'
    frame.loc[:9, "employment"] = odd
    frame.loc[10:14, "employment"] = "null"
    store_predictions(loan_model, frame, start)
    snapshot, _ = snapshot_take(model=loan_model, window="hourly", start=start)
    counts = snapshot.drift["features"]["employment"]["current_frequencies"]
    assert counts[odd] == 10
    assert counts["null"] == 5
    assert snapshot.metrics["missing"]["employment"]["count"] == 0


def test_each_window_is_also_compared_with_the_one_before(loan_model):
    from models_registry.monitoring import stats as monitoring_stats

    upload_baseline(loan_model)
    earlier, later = a_closed_hour(2), a_closed_hour(1)
    store_predictions(loan_model, current_frame(seed=11), earlier, prefix="a")
    store_predictions(loan_model, current_frame(seed=12, income_shift=8000), later, prefix="b")
    first, _ = snapshot_take(model=loan_model, window="hourly", start=earlier)
    second, _ = snapshot_take(model=loan_model, window="hourly", start=later)
    assert "psi_vs_previous" not in first.drift["features"]["income"]
    income = second.drift["features"]["income"]
    assert income["psi_vs_previous"] == pytest.approx(
        monitoring_stats.psi_from_counts(
            first.drift["features"]["income"]["current_histogram"], income["current_histogram"]
        )
    )
    assert income["psi_vs_previous"] > 0.1
    assert second.drift["features"]["applicant_age"]["psi_vs_previous"] < 0.1
    assert second.drift["previous_window_start"] == earlier.isoformat()
