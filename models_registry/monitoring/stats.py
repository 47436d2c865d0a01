"""The statistics behind drift and accuracy, each a thin call into scipy or numpy.

Nothing here touches the database: every function takes arrays or counts, so tests can call
scipy on the same arrays and compare figures exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

# A feature counts as drifted when the change is both statistically significant and large
# enough to matter: with a million predictions a p-value alone flags shifts nobody cares about.
DEFAULT_THRESHOLDS = {
    "ks_pvalue": 0.05,
    "wasserstein_normalized": 0.1,
    "psi": 0.1,
    "chi2_pvalue": 0.05,
}
# Empty bins would make PSI infinite; this floor is the usual convention (and Evidently's).
PSI_EPSILON = 1e-4
UNSEEN = "__unseen__"


def psi_from_counts(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two binned distributions (counts or shares).

    PSI = sum((a - e) * ln(a / e)), which is the symmetric Kullback-Leibler divergence, so it
    is computed with scipy's ``rel_entr`` on shares floored at ``PSI_EPSILON``.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.clip(e / e.sum() if e.sum() else e, PSI_EPSILON, None)
    a = np.clip(a / a.sum() if a.sum() else a, PSI_EPSILON, None)
    return float(np.sum(special.rel_entr(a, e) + special.rel_entr(e, a)))


def psi_bin_edges(baseline: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the baseline's quantiles (deciles by default), deduplicated."""
    quantiles = np.quantile(baseline, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(quantiles)


def binned_counts(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Counts per bin, with open-ended first and last bins (values may leave the range)."""
    edges = np.concatenate(([-np.inf], inner_edges, [np.inf]))
    counts, _ = np.histogram(values, bins=edges)
    return counts


@dataclass(frozen=True)
class NumericDrift:
    ks_statistic: float
    ks_pvalue: float
    psi: float
    wasserstein: float
    wasserstein_normalized: float
    drifted: bool

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def numeric_drift(
    baseline: np.ndarray,
    current: np.ndarray,
    *,
    current_bin_counts: np.ndarray | None = None,
    inner_edges: np.ndarray | None = None,
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
) -> NumericDrift:
    """KS test, PSI on baseline quantile bins, and Wasserstein distance over the baseline's std.

    ``current_bin_counts`` lets a caller that streamed the window in chunks pass exact bin
    counts for the whole window while ``current`` is a bounded sample of it.
    """
    baseline = np.asarray(baseline, dtype=float)
    current = np.asarray(current, dtype=float)
    ks = stats.ks_2samp(baseline, current)
    if inner_edges is None:
        inner_edges = psi_bin_edges(baseline)
    if current_bin_counts is None:
        current_bin_counts = binned_counts(current, inner_edges)
    psi = psi_from_counts(binned_counts(baseline, inner_edges), current_bin_counts)
    wasserstein = float(stats.wasserstein_distance(baseline, current))
    spread = float(np.std(baseline))
    normalized = wasserstein / spread if spread > 0 else (0.0 if wasserstein == 0 else np.inf)
    drifted = bool(
        ks.pvalue < thresholds["ks_pvalue"]
        and (normalized >= thresholds["wasserstein_normalized"] or psi >= thresholds["psi"])
    )
    return NumericDrift(
        float(ks.statistic), float(ks.pvalue), psi, wasserstein, float(normalized), drifted
    )


@dataclass(frozen=True)
class CategoricalDrift:
    chi2_statistic: float
    chi2_pvalue: float
    psi: float
    unseen_categories: int
    unseen_count: int
    drifted: bool

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def categorical_table(
    baseline_counts: Mapping[str, int], current_counts: Mapping[str, int]
) -> tuple[list[str], np.ndarray]:
    """A 2 x k contingency table over the union of categories (unseen ones included)."""
    categories = sorted(set(baseline_counts) | set(current_counts))
    table = np.array(
        [
            [baseline_counts.get(c, 0) for c in categories],
            [current_counts.get(c, 0) for c in categories],
        ],
        dtype=float,
    )
    return categories, table


def categorical_drift(
    baseline_counts: Mapping[str, int],
    current_counts: Mapping[str, int],
    *,
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
) -> CategoricalDrift:
    """Chi-square test of homogeneity (baseline vs current counts) and PSI over categories.

    Categories the baseline never saw are columns of their own, so a new value shows up in
    both the test and the unseen counts instead of vanishing.
    """
    categories, table = categorical_table(baseline_counts, current_counts)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0 or table[0].sum() == 0:
        chi2, pvalue = 0.0, 1.0
    else:
        result = stats.chi2_contingency(table, correction=False)
        chi2, pvalue = float(result.statistic), float(result.pvalue)
    unseen = [c for c in current_counts if c not in baseline_counts and current_counts[c]]
    psi = psi_from_counts(
        [baseline_counts.get(c, 0) for c in categories],
        [current_counts.get(c, 0) for c in categories],
    )
    drifted = bool(pvalue < thresholds["chi2_pvalue"] and psi >= thresholds["psi"])
    return CategoricalDrift(
        chi2, pvalue, psi, len(unseen), int(sum(current_counts[c] for c in unseen)), drifted
    )


def classification_counts(actual: Sequence, predicted: Sequence) -> dict:
    """Counts that add up across windows: n, correct, and per label tp/fp/fn."""
    actual = np.asarray([str(a) for a in actual], dtype=object)
    predicted = np.asarray([str(p) for p in predicted], dtype=object)
    labels = sorted(set(actual) | set(predicted))
    per_label = {}
    for label in labels:
        is_actual, is_predicted = actual == label, predicted == label
        per_label[label] = {
            "tp": int(np.sum(is_actual & is_predicted)),
            "fp": int(np.sum(~is_actual & is_predicted)),
            "fn": int(np.sum(is_actual & ~is_predicted)),
        }
    return {"n": int(actual.size), "correct": int(np.sum(actual == predicted)), "labels": per_label}


def classification_merge(parts: Sequence[dict]) -> dict:
    merged = {"n": 0, "correct": 0, "labels": {}}
    for part in parts:
        merged["n"] += part.get("n", 0)
        merged["correct"] += part.get("correct", 0)
        for label, c in part.get("labels", {}).items():
            into = merged["labels"].setdefault(label, {"tp": 0, "fp": 0, "fn": 0})
            for k in ("tp", "fp", "fn"):
                into[k] += c[k]
    return merged


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def classification_metrics(counts: dict) -> dict:
    """Accuracy, and precision, recall and F1 per label, each with the sample size behind it."""
    per_label = {}
    for label, c in counts.get("labels", {}).items():
        precision = _ratio(c["tp"], c["tp"] + c["fp"])
        recall = _ratio(c["tp"], c["tp"] + c["fn"])
        f1 = _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
        per_label[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": c["tp"] + c["fn"],
        }
    return {
        "kind": "classification",
        "n": counts.get("n", 0),
        "accuracy": _ratio(counts.get("correct", 0), counts.get("n", 0)),
        "per_label": per_label,
    }


def regression_counts(actual: Sequence[float], predicted: Sequence[float]) -> dict:
    errors = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    return {
        "n": int(errors.size),
        "sum_abs_error": float(np.sum(np.abs(errors))),
        "sum_squared_error": float(np.sum(errors**2)),
    }


def regression_merge(parts: Sequence[dict]) -> dict:
    return {k: sum(p.get(k, 0) for p in parts) for k in ("n", "sum_abs_error", "sum_squared_error")}


def regression_metrics(counts: dict) -> dict:
    n = counts.get("n", 0)
    return {
        "kind": "regression",
        "n": n,
        "mae": counts["sum_abs_error"] / n if n else None,
        "rmse": float(np.sqrt(counts["sum_squared_error"] / n)) if n else None,
    }
