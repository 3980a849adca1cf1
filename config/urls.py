from django.urls import include, path

from medassist.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("account/", include("medassist.access.urls")),
    path("patients/", include("medassist.patients.urls")),
    path("audit/", include("medassist.audit.urls")),
    path("schedule/", include("medassist.scheduling.urls")),
    path("flow/", include("medassist.flow.urls")),
    path("rooming/", include("medassist.rooming.urls")),
    path("vitals/", include("medassist.vitals.urls")),
    path("immunizations/", include("medassist.immunizations.urls")),
    path("labs/", include("medassist.labs.urls")),
    path("poct/", include("medassist.poct.urls")),
    path("fhir/R4/", include("medassist.fhir.urls")),
]
