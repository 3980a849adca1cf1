from django.apps import AppConfig


class ImmunizationsConfig(AppConfig):
    name = "medassist.immunizations"
    label = "immunizations"
