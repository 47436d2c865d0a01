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
