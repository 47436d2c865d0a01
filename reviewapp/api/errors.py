"""Errors outside any API view still answer API clients in JSON.

A path under /api/ that matches no endpoint, or a server error before a view runs, would
otherwise get Django's HTML page; a scoring service parses JSON (docs/api.md, "Errors").
"""

from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions

API_PREFIX = "/api/"


def not_found(request, exception):
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": f"No endpoint at {request.path}."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(API_PREFIX):
        return exceptions.server_error(request)
    return defaults.server_error(request)
