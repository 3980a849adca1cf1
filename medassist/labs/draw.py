"""Containers, additives and the order of draw.

Source: CLSI GP41, Collection of Diagnostic Venous Blood Specimens, 7th ed. (2017), order of
draw for venipuncture: (1) blood culture bottles / sterile tubes, (2) sodium citrate,
(3) serum tubes with or without clot activator or gel, (4) heparin with or without gel,
(5) EDTA, (6) glycolytic inhibitor (sodium fluoride / potassium oxalate). Additives carried
over on the needle from a later tube into an earlier one change results (EDTA raises potassium
and lowers calcium; citrate and heparin disturb coagulation tests), which is why the order is
fixed. Capillary (skin puncture) collection follows CLSI GP42 instead: blood gases, then EDTA,
then other additive tubes, then serum, because platelets clump at the puncture site first.

Non-blood containers (urine, swabs, stool) are collected after blood and carry no additive
carry-over rule; they sort after every blood tube.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Container(models.TextChoices):
    BLOOD_CULTURE = "blood_culture", "Blood culture bottles (aerobic, anaerobic)"
    YELLOW_SPS = "yellow_sps", "Yellow top (SPS)"
    LIGHT_BLUE = "light_blue", "Light blue top (sodium citrate 3.2%)"
    RED = "red", "Red top (clot activator, no gel)"
    GOLD_SST = "gold_sst", "Gold top / SST (clot activator and gel)"
    GREEN = "green", "Green top (lithium heparin)"
    LIGHT_GREEN = "light_green", "Light green top / PST (lithium heparin and gel)"
    LAVENDER = "lavender", "Lavender top (K2EDTA)"
    PINK = "pink", "Pink top (K2EDTA, blood bank)"
    GRAY = "gray", "Gray top (sodium fluoride / potassium oxalate)"
    URINE_CUP = "urine_cup", "Sterile urine cup"
    URINE_TRANSPORT = "urine_transport", "Urine transport tube (boric acid)"
    SWAB = "swab", "Swab in transport medium"
    STOOL = "stool", "Stool container"


@dataclass(frozen=True)
class ContainerInfo:
    code: str
    label: str
    cap_color: str  # words for people, as printed on the label
    swatch: str  # CSS colour for the worklist's tube dot
    additive: str
    venous_order: int  # CLSI GP41 position (1 first); 10+ for non-blood
    capillary_order: int  # CLSI GP42 position
    inversions: int  # gentle inversions after filling, per tube manufacturers' instructions
    blood: bool


# Inversions: BD Vacutainer tube guide (serum 5, SST 5, citrate 3-4, heparin 8-10, EDTA 8-10,
# fluoride 8-10); culture bottles per the bottle maker.
CONTAINERS: dict[str, ContainerInfo] = {
    c.code: c
    for c in (
        ContainerInfo(
            "blood_culture",
            Container.BLOOD_CULTURE.label,
            "culture bottles",
            "#6b4f2a",
            "broth",
            1,
            1,
            0,
            True,
        ),
        ContainerInfo(
            "yellow_sps", Container.YELLOW_SPS.label, "yellow", "#f2d600", "SPS", 1, 1, 8, True
        ),
        ContainerInfo(
            "light_blue",
            Container.LIGHT_BLUE.label,
            "light blue",
            "#7fc4ee",
            "sodium citrate 3.2%",
            2,
            3,
            4,
            True,
        ),
        ContainerInfo(
            "red", Container.RED.label, "red", "#c8102e", "clot activator", 3, 5, 5, True
        ),
        ContainerInfo(
            "gold_sst",
            Container.GOLD_SST.label,
            "gold",
            "#d4a017",
            "clot activator and gel",
            3,
            5,
            5,
            True,
        ),
        ContainerInfo(
            "green", Container.GREEN.label, "green", "#1f8a3b", "lithium heparin", 4, 3, 8, True
        ),
        ContainerInfo(
            "light_green",
            Container.LIGHT_GREEN.label,
            "light green",
            "#8fd18f",
            "lithium heparin and gel",
            4,
            3,
            8,
            True,
        ),
        ContainerInfo(
            "lavender", Container.LAVENDER.label, "lavender", "#a780c9", "K2EDTA", 5, 2, 8, True
        ),
        ContainerInfo("pink", Container.PINK.label, "pink", "#f4a6c1", "K2EDTA", 5, 2, 8, True),
        ContainerInfo(
            "gray",
            Container.GRAY.label,
            "gray",
            "#8a8d8f",
            "sodium fluoride / potassium oxalate",
            6,
            4,
            8,
            True,
        ),
        ContainerInfo(
            "urine_cup", Container.URINE_CUP.label, "urine cup", "#f5e27a", "none", 10, 10, 0, False
        ),
        ContainerInfo(
            "urine_transport",
            Container.URINE_TRANSPORT.label,
            "urine tube",
            "#e8d44d",
            "boric acid",
            11,
            11,
            8,
            False,
        ),
        ContainerInfo(
            "swab", Container.SWAB.label, "swab", "#ffffff", "transport medium", 12, 12, 0, False
        ),
        ContainerInfo("stool", Container.STOOL.label, "stool", "#8b5a2b", "none", 13, 13, 0, False),
    )
}


def draw_position(container: str, *, capillary: bool = False) -> int:
    info = CONTAINERS[container]
    return info.capillary_order if capillary else info.venous_order


def in_order_of_draw(containers: list[str], *, capillary: bool = False) -> list[str]:
    """The containers sorted by the CLSI order of draw; ties keep the order given (stable)."""
    return sorted(containers, key=lambda c: draw_position(c, capillary=capillary))
