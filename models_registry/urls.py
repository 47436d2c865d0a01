"""Server-rendered monitoring pages, mounted at /models/."""

from django.urls import path

from models_registry import views

app_name = "models_registry"

urlpatterns = [
    path("", views.models_overview, name="overview"),
    path("<slug:slug>/", views.model_dashboard, name="dashboard"),
    path(
        "<slug:slug>/alerts/<int:alert_id>/acknowledge/",
        views.alert_acknowledge_view,
        name="alert-acknowledge",
    ),
    path(
        "<slug:slug>/alerts/<int:alert_id>/resolve/",
        views.alert_resolve_view,
        name="alert-resolve",
    ),
]
