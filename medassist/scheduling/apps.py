from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "medassist.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from medassist.events.services import register_handler
        from medassist.scheduling.reminders import KIND, send_appointment_reminder

        register_handler(KIND, send_appointment_reminder)
