from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "medassist.events"
    label = "events"
