from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "medassist.history"
    label = "history"
