from django.apps import AppConfig


class Hl7Config(AppConfig):
    name = "medassist.hl7"
    label = "hl7"
    verbose_name = "HL7 v2 adapter"

    def ready(self) -> None:
        from medassist.hl7 import lab, lab_intake, registry
        from medassist.labs.services.results import register_refiler

        registry.register()
        lab.register()
        # The error queue's Retry (labs) re-parses a stored message the adapter's way.
        register_refiler(lab_intake.refile)
