from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(url="/review/", permanent=False), name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("review/", include("reviewapp.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("reviewapp.api.urls")),
    path("api/v1/", include("models_registry.api.urls")),
    path("models/", include("models_registry.urls")),
    path("api/v1/", include("audit.api.urls")),
    path("compliance/", include("audit.urls")),
    path("", include("models_registry.metrics")),
    path("", include("models_registry.retraining.urls")),
]

handler404 = "reviewapp.api.errors.not_found"
handler500 = "reviewapp.api.errors.server_error"
