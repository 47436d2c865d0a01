"""/api/v1/: where a prediction enters (see docs/architecture.md)."""

from django.urls import path

from reviewapp.api import views

urlpatterns = [
    path("models/", views.ModelListView.as_view(), name="api-models"),
    path("models/<slug:slug>", views.ModelDetailView.as_view(), name="api-model"),
    path(
        "models/<slug:slug>/predictions",
        views.PredictionCreateView.as_view(),
        name="api-predictions",
    ),
    path(
        "models/<slug:slug>/predictions/batch",
        views.PredictionBatchView.as_view(),
        name="api-predictions-batch",
    ),
    path(
        "models/<slug:slug>/predictions/<path:external_id>",
        views.PredictionDetailView.as_view(),
        name="api-prediction",
    ),
    path("models/<slug:slug>/outcomes", views.OutcomesView.as_view(), name="api-outcomes"),
]
