"""/api/v1/ endpoints of the registry (versions, baselines, retraining requests)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
