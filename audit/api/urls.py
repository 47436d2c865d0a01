"""/api/v1/exports: mounted with one line in countersign/urls.py."""

from django.urls import path

from audit.api import views

urlpatterns = [
    path("exports", views.ExportListCreateView.as_view(), name="api-exports"),
    path("exports/<int:pk>", views.ExportDetailView.as_view(), name="api-export"),
    path(
        "exports/<int:pk>/download", views.ExportDownloadView.as_view(), name="api-export-download"
    ),
    path(
        "exports/<int:pk>/manifest", views.ExportManifestView.as_view(), name="api-export-manifest"
    ),
]
