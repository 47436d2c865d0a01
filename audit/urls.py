"""/compliance/: the compliance officer's pages (mounted in countersign/urls.py)."""

from django.urls import path

from audit import views

urlpatterns = [
    path("", views.compliance_home, name="compliance"),
    path("exports/<int:pk>/", views.export_detail, name="compliance-export"),
    path("exports/<int:pk>/status", views.export_status, name="compliance-export-status"),
    path("exports/<int:pk>/download", views.export_download, name="compliance-export-download"),
    path("exports/<int:pk>/manifest", views.export_manifest, name="compliance-export-manifest"),
]
