"""The lab test double: the results it writes for an order are realistic ORU^R01 (valid 2.5.1,
the components, units, ranges and flags a lab sends), and it pushes them over MLLP."""

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message as hl7apy_parse

from medassist.hl7.ack import build_ack, exchange
from medassist.hl7.lab_double import PANELS, Analyte, LabDouble
from medassist.hl7.lab_orders import build_lab_order
from medassist.hl7.mllp import MllpServer
from medassist.hl7.tests.test_lab_orders import plain

REPORTED = dt.datetime(2026, 11, 20, 20, 25, tzinfo=dt.UTC)


def order_text() -> str:
    return build_lab_order(plain())  # a CBC with differential and a lipid panel


def obx(message: str) -> dict[str, list[str]]:
    return {
        str(s[3]).split("^")[0]: [str(s[n]) if len(s) > n else "" for n in range(12)]
        for s in hl7.parse(message).segments("OBX")
    }


def test_results_for_each_ordered_test() -> None:
    with LabDouble(application="PRLLIS") as double:
        text = double.result_for(order_text())
    message = hl7.parse(text)
    msh = message.segment("MSH")
    assert [str(msh[n]) for n in (3, 4, 5, 6)] == ["PRLLIS", "PRL", "MEDASSIST", "NORTHFM"]
    assert str(msh[9]) == "ORU^R01^ORU_R01"
    assert str(message.segment("PID")[3]) == "5000123^^^NORTH^MR"  # as the order sent it
    obrs = message.segments("OBR")
    assert [str(o[2]) for o in obrs] == ["NORTH-00000001^NORTHFM", "NORTH-00000002^NORTHFM"]
    assert [str(o[3]).split("^")[0] for o in obrs] == ["F0000001", "F0000002"]
    assert [str(o[25]) for o in obrs] == ["F", "F"]
    assert str(obrs[0][7]) == "20261120095000-0600"  # collected when the order said
    values = obx(text)
    assert len(message.segments("OBX")) == 24  # 20 for the CBC with differential, 4 lipids
    assert {"6690-2", "789-8", "718-7", "4544-3", "777-3"} <= values.keys()
    assert {"2093-3", "2571-8", "2085-9", "13457-7"} <= values.keys()
    hgb = values["718-7"]
    assert hgb[2] == "NM" and hgb[5] == "14.1" and hgb[6] == "g/dL^g/dL^UCUM"
    assert hgb[7] == "12.0-16.0" and hgb[8] == "N" and hgb[11] == "F"
    assert values["2093-3"][7] == "<200" and values["2085-9"][7] == ">40"


def test_results_for_an_order_as_received_parsed_or_as_an_order_message() -> None:
    with LabDouble() as double:
        sent = order_text()
        msh10 = str(hl7.parse(sent).segment("MSH")[10])
        ack = exchange(
            double.host, double.port, sent, control_id=msh10, timeout=10, types=("ORR", "ACK")
        )
        assert ack.code == "AA"
        [parsed] = double.orders  # what the lab took, parsed
        from_parsed = double.result_for(parsed, control_id="ORU1", reported_at=REPORTED)
        from_text = double.result_for(order_text(), control_id="ORU1", reported_at=REPORTED)
        record = SimpleNamespace(message=order_text())  # an OrderMessage, as far as it goes
        from_record = double.result_for(record, control_id="ORU1", reported_at=REPORTED)
        with pytest.raises(TypeError, match="an order as text, parsed or with .message"):
            double.result_for(SimpleNamespace(message=None))

    # the same results, but for the lab's filler numbers (one per call)
    def fillerless(text: str) -> str:
        return re.sub(r"F\d{7}", "F", text)

    assert fillerless(from_parsed) == fillerless(from_text) == fillerless(from_record)
    assert len(hl7.parse(from_parsed).segments("OBX")) == 24


def test_the_components_have_the_names_a_report_prints() -> None:
    with LabDouble() as double:
        values = obx(double.result_for(order_text()))
    names = {loinc: fields[3].split("^")[1] for loinc, fields in values.items()}
    assert names["2093-3"] == "Cholesterol, total"
    assert names["2571-8"] == "Triglycerides"
    assert names["2085-9"] == "HDL cholesterol"
    assert names["13457-7"] == "LDL cholesterol, calculated"
    assert names["718-7"] == "Hemoglobin" and names["4544-3"] == "Hematocrit"
    assert names["6690-2"] == "White blood cells" and names["777-3"] == "Platelets"
    # none is a LOINC short name ("Cholest SerPl-mCnc", "WBC # Bld Auto")
    for analytes in PANELS.values():
        for analyte in analytes:
            assert not re.search(r"SerPl|Bld|Auto|[mst]Cnc|NFr|VFr", analyte.name), analyte


def test_valid_against_the_hl7_251_oru_structure() -> None:
    with LabDouble() as double:
        text = double.result_for(order_text(), report_note="Hemolyzed", notes={"718-7": "Repeated"})
    assert hl7apy_parse(text, find_groups=True, validation_level=VALIDATION_LEVEL.STRICT).validate()


@pytest.mark.parametrize(
    ("values", "flags", "expected"),
    [
        ({"718-7": "10.2"}, {}, "L"),  # below 12.0
        ({"6690-2": "13.8"}, {}, "H"),
        ({"718-7": "6.1"}, {"718-7": "LL"}, "LL"),  # the lab's critical flag, as told
        ({"2093-3": "200"}, {}, "H"),  # "<200": 200 is high
        ({"2085-9": "35"}, {}, "L"),  # ">40"
    ],
)
def test_flags_follow_the_values(values, flags, expected) -> None:  # type: ignore[no-untyped-def]
    with LabDouble() as double:
        text = double.result_for(order_text(), values=values, flags=flags)
    [loinc] = values
    assert obx(text)[loinc][8] == expected


def test_a_text_value_goes_as_st_and_a_correction_as_c() -> None:
    with LabDouble() as double:
        text = double.result_for(order_text(), values={"718-7": "Clotted"}, status="C")
    hgb = obx(text)["718-7"]
    assert (hgb[2], hgb[5], hgb[8], hgb[11]) == ("ST", "Clotted", "", "C")
    assert {str(o[25]) for o in hl7.parse(text).segments("OBR")} == {"C"}


def test_only_some_tests_and_a_test_without_a_panel() -> None:
    with LabDouble() as double:
        only = double.result_for(order_text(), only=["NORTH-00000002"])
        assert [str(o[2]).split("^")[0] for o in hl7.parse(only).segments("OBR")] == [
            "NORTH-00000002"
        ]
        odd = order_text().replace("57021-8^CBC with differential^LN", "12345-6^Odd test^LN")
        values = obx(double.result_for(odd))
    assert values["12345-6"][2] == "ST" and values["12345-6"][5] == "See report"


def test_every_panel_component_has_a_unit_and_a_range() -> None:
    for loinc, analytes in PANELS.items():
        for analyte in analytes:
            assert analyte.unit and analyte.reference, (loinc, analyte.loinc)
            assert analyte.flag(analyte.typical) == "N", analyte.loinc
    assert Analyte("1-1", "x", "", None, None, Decimal(1)).reference == ""


def test_push_returns_the_ack_it_got() -> None:
    with MllpServer(lambda m: build_ack(m, "AE", profile=None)) as ours, LabDouble() as double:
        ack = double.push(double.result_for(order_text()), ours.host, ours.port)
    assert ack.code == "AE"
