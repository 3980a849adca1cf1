from django.apps import AppConfig


class ImmunizationsConfig(AppConfig):
    name = "medassist.immunizations"
    label = "immunizations"

    def ready(self) -> None:
        from medassist.immunizations.previsit import immunizations_due
        from medassist.scheduling.previsit import register_check

        register_check("immunizations", immunizations_due)
