from django.apps import AppConfig


class Hl7Config(AppConfig):
    name = "medassist.hl7"
    label = "hl7"
    verbose_name = "HL7 v2 adapter"

    def ready(self) -> None:
        from medassist.hl7 import registry

        registry.register()
