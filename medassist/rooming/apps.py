from django.apps import AppConfig


class RoomingConfig(AppConfig):
    name = "medassist.rooming"
    label = "rooming"
