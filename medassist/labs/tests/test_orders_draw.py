"""The order of draw, row by row against CLSI GP41 (venipuncture) and GP42 (capillary), and how a
requisition's tests become tubes: one per container type, in that order, volumes added."""

from decimal import Decimal
from pathlib import Path

import pytest

from medassist.labs import draw
from medassist.labs.draw import CONTAINERS, Container, in_order_of_draw
from medassist.labs.services.orders import tubes_for
from medassist.labs.tests import factories as f
from medassist.patients.tests.factories import make_patient

# CLSI GP41 7th ed. (2017), order of draw for venipuncture: (1) blood culture bottles / sterile
# tubes, (2) sodium citrate, (3) serum tubes with or without clot activator or gel, (4) heparin
# with or without gel, (5) EDTA, (6) glycolytic inhibitor. CLSI GP42 (capillary): EDTA first,
# then other additive tubes (heparin, fluoride), then serum. Non-blood containers come after.
#   container            GP41  GP42  blood
TABLE = [
    (Container.BLOOD_CULTURE, 1, 1, True),
    (Container.YELLOW_SPS, 1, 1, True),
    (Container.LIGHT_BLUE, 2, 3, True),
    (Container.RED, 3, 5, True),
    (Container.GOLD_SST, 3, 5, True),
    (Container.GREEN, 4, 3, True),
    (Container.LIGHT_GREEN, 4, 3, True),
    (Container.LAVENDER, 5, 2, True),
    (Container.PINK, 5, 2, True),
    (Container.GRAY, 6, 4, True),
    (Container.URINE_CUP, 10, 10, False),
    (Container.URINE_TRANSPORT, 11, 11, False),
    (Container.SWAB, 12, 12, False),
    (Container.STOOL, 13, 13, False),
]


@pytest.mark.parametrize(("container", "venous", "capillary", "blood"), TABLE)
def test_each_container_sits_at_its_clsi_position(container, venous, capillary, blood):
    assert draw.draw_position(container) == venous
    assert draw.draw_position(container, capillary=True) == capillary
    assert CONTAINERS[container].blood is blood


def test_the_table_covers_every_container():
    assert {row[0] for row in TABLE} == set(Container.values) == set(CONTAINERS)


def test_a_full_venous_draw_follows_gp41():
    shuffled: list[str] = [
        Container.GRAY,
        Container.LAVENDER,
        Container.URINE_CUP,
        Container.GREEN,
        Container.GOLD_SST,
        Container.LIGHT_BLUE,
        Container.BLOOD_CULTURE,
    ]
    assert in_order_of_draw(shuffled) == [
        Container.BLOOD_CULTURE,
        Container.LIGHT_BLUE,
        Container.GOLD_SST,
        Container.GREEN,
        Container.LAVENDER,
        Container.GRAY,
        Container.URINE_CUP,
    ]


def test_a_capillary_collection_fills_edta_first_and_serum_last_gp42():
    assert in_order_of_draw(
        [Container.GOLD_SST, Container.GRAY, Container.GREEN, Container.LAVENDER], capillary=True
    ) == [Container.LAVENDER, Container.GREEN, Container.GRAY, Container.GOLD_SST]


def test_ties_keep_the_order_given():
    assert in_order_of_draw([Container.GOLD_SST, Container.RED]) == [
        Container.GOLD_SST,
        Container.RED,
    ]
    assert in_order_of_draw([Container.RED, Container.GOLD_SST]) == [
        Container.RED,
        Container.GOLD_SST,
    ]


@pytest.mark.django_db
def test_tests_sharing_a_container_share_a_tube_and_add_their_volumes(cast):
    requisition = f.order(
        cast, make_patient(cast.north), ("CBC", "CMP", "A1C", "LIPID", "TSH", "PT", "UCX")
    )
    orders = list(requisition.orders.select_related("test"))
    tubes = tubes_for(orders)
    assert [t.container for t in tubes] == [
        Container.LIGHT_BLUE,
        Container.GOLD_SST,
        Container.LAVENDER,
        Container.URINE_TRANSPORT,
    ]
    gold = tubes[1]
    assert [o.test.lab_code for o in gold.orders] == ["CMP", "LIPID", "TSH"]
    assert gold.volume_ml == Decimal("3.0") and gold.fasting_hours == 12
    assert gold.specimen_type == "SER"
    lavender = tubes[2]
    assert [o.test.lab_code for o in lavender.orders] == ["CBC", "A1C"]
    assert lavender.volume_ml == Decimal("5.0") and lavender.fasting_hours == 0
    assert [t.container for t in tubes_for(orders, capillary=True)][:3] == [
        Container.LAVENDER,
        Container.LIGHT_BLUE,
        Container.GOLD_SST,
    ]


def test_the_worklist_swatch_of_every_container_is_in_the_style_sheet():
    # The Content-Security-Policy forbids style attributes: each tube colour is a class.
    css = (Path(draw.__file__).parent / "static" / "labs" / "labs.css").read_text()
    for info in CONTAINERS.values():
        assert f".tube-{info.code} {{ background: {info.swatch}; }}" in css
