from django.apps import AppConfig


class PoctConfig(AppConfig):
    name = "medassist.poct"
    label = "poct"
    verbose_name = "Point-of-care testing (CLIA-waived)"
