"""Where the authorities' reference data lives, and what the project expects to find there.

The data is never copied into the repository: it is read from settings.REFERENCE_DIR
(MEDASSIST_REFERENCE_DIR, default ../shared/reference).
"""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class ReferenceSet:
    folder: str
    what: str
    required: tuple[str, ...]


# Each folder names its origin, version and licence (SOURCE.md, or the dictionary's own LICENSE).
MANIFEST: tuple[ReferenceSet, ...] = (
    ReferenceSet(
        "cdsi",
        "CDC CDSi supporting data, code tables, HL7 samples",
        ("SOURCE.md", "supporting-data-4.64", "codes"),
    ),
    ReferenceSet("vitals", "growth LMS tables, BP tables, NEWS2, Fleming centiles", ("SOURCE.md",)),
    ReferenceSet("ecg", "12-lead records and cart formats", ("SOURCE.md",)),
    ReferenceSet(
        "fhir",
        "FHIR R4 examples, US Core profiles, test bundles",
        ("SOURCE.md", "us-core-9.0.0-profiles"),
    ),
    ReferenceSet("cmudict", "CMU pronouncing dictionary", ("cmudict.dict", "LICENSE")),
)


def reference_dir() -> Path:
    return Path(settings.REFERENCE_DIR)


def missing_reference_files(root: Path | None = None) -> list[str]:
    """Paths (relative to the reference directory) that the manifest expects and that are absent."""
    root = root or reference_dir()
    if not root.is_dir():
        return [str(root)]
    return [
        f"{ref.folder}/{item}"
        for ref in MANIFEST
        for item in ref.required
        if not (root / ref.folder / item).exists()
    ]


def path(*parts: str) -> Path:
    return reference_dir().joinpath(*parts)
