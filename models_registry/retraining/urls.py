"""Retraining pages, mounted at the site root by one line in countersign/urls.py."""

from django.urls import path

from models_registry.retraining import views

urlpatterns = [
    path("models/<slug:slug>/retraining/", views.model_retraining, name="retraining-model"),
    path(
        "models/<slug:slug>/retraining/rollback",
        views.model_rollback,
        name="retraining-rollback",
    ),
    path("retraining/", views.inbox, name="retraining-inbox"),
    path("retraining/<int:pk>/", views.request_detail, name="retraining-request"),
    path("retraining/<int:pk>/sign", views.request_sign, name="retraining-sign"),
    path("retraining/<int:pk>/promote", views.request_promote, name="retraining-promote"),
    path("retraining/<int:pk>/validate", views.request_validate, name="retraining-validate"),
    path("retraining/<int:pk>/cancel", views.request_cancel, name="retraining-cancel"),
    path(
        "retraining/<int:pk>/resend",
        views.request_pipeline_resend,
        name="retraining-resend",
    ),
]
