from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "medassist.labs"
    label = "labs"
    verbose_name = "Lab orders, specimens and results"
