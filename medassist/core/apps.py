from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "medassist.core"
    label = "core"

    def ready(self) -> None:
        from medassist.core import checks  # noqa: F401  (registers the start-up checks)
