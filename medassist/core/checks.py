from django.conf import settings
from django.core.checks import Error, register

from medassist.core.reference import missing_reference_files


@register(deploy=False)
def reference_data_present(app_configs, **kwargs):  # type: ignore[no-untyped-def]
    missing = missing_reference_files()
    if not missing:
        return []
    return [
        Error(
            f"Reference data missing under {settings.REFERENCE_DIR}: {', '.join(missing)}",
            hint="Set MEDASSIST_REFERENCE_DIR to the folder holding cdsi/, vitals/, ecg/, fhir/ "
            "and cmudict/ (by default ../shared/reference beside the repository).",
            id="medassist.E001",
        )
    ]
