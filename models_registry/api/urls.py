"""/api/v1/ endpoints of the registry (versions, baselines, retraining requests)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []

# Monitoring: training baselines.
from models_registry.api.monitoring import BaselineView  # noqa: E402

urlpatterns += [
    path(
        "models/<slug:slug>/versions/<str:label>/baseline",
        BaselineView.as_view(),
        name="api-baseline",
    ),
]

# --- Retraining ---
from models_registry.api import retraining  # noqa: E402

urlpatterns += [
    path(
        "models/<slug:slug>/versions",
        retraining.VersionCreateView.as_view(),
        name="api-versions",
    ),
    path(
        "retraining-requests",
        retraining.RetrainingRequestListView.as_view(),
        name="api-retraining-requests",
    ),
    path(
        "retraining-requests/<int:pk>",
        retraining.RetrainingRequestDetailView.as_view(),
        name="api-retraining-request",
    ),
    path(
        "retraining-requests/<int:pk>/validate",
        retraining.RetrainingValidateView.as_view(),
        name="api-retraining-validate",
    ),
    path(
        "retraining-requests/<int:pk>/labels",
        retraining.RetrainingLabelsView.as_view(),
        name="api-retraining-labels",
    ),
    path(
        "retraining-requests/<int:pk>/resend",
        retraining.RetrainingPipelineResendView.as_view(),
        name="api-retraining-resend",
    ),
]
