from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "medassist.clinics"
    label = "clinics"
