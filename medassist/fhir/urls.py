from django.urls import path, re_path

from medassist.fhir.api import api, unknown_route

# The base itself and any URL the API does not serve answer with a 404 OperationOutcome, not
# Django's HTML page: a FHIR client reads every answer as FHIR.
urlpatterns = [
    re_path(r"^$", unknown_route),
    path("", api.urls),
    re_path(r"^.*$", unknown_route),
]
