from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "medassist.access"
    label = "access"
