from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "medassist.patients"
    label = "patients"
