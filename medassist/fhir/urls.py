from django.urls import path, re_path

from medassist.fhir.api import api, unknown_route

# Any URL the API does not serve answers with a 404 OperationOutcome, not Django's HTML page: a
# FHIR client reads every answer as FHIR. The base itself is the API's (POST of a Bundle).
urlpatterns = [
    path("", api.urls),
    re_path(r"^.*$", unknown_route),
]
