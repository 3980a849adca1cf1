from django.apps import AppConfig


class FlowConfig(AppConfig):
    name = "medassist.flow"
    label = "flow"
