from django.apps import AppConfig


class EncountersConfig(AppConfig):
    name = "medassist.encounters"
    label = "encounters"
