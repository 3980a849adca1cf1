from django.apps import AppConfig


class VitalsConfig(AppConfig):
    name = "medassist.vitals"
    label = "vitals"
