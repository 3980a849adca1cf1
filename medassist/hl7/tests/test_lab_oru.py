"""Reading ORU^R01 (HL7 v2.5.1 ch. 7) into the labs app's IncomingResults, field by field, and
every way a message can be unreadable, each with its place named."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from medassist.hl7.er7 import parse_date, parse_message, parse_timestamp
from medassist.hl7.oru import Malformed, parse_oru, read_header

CHICAGO = ZoneInfo("America/Chicago")

ORU = "\r".join(
    [
        "MSH|^~\\&|PRLLIS|PRL|MEDASSIST|NORTHFM|20261120143000-0600||ORU^R01^ORU_R01|MSG0001|P|2.5.1",
        "PID|1||PRL998^^^PRL^PI~5000123^^^NORTH^MR||Rivera^Maria^J||19800304|F",
        "PV1|1|O",
        "ORC|RE|NORTH-00000001^NORTHFM|F778^PRL",
        "OBR|1|NORTH-00000001^NORTHFM|F778^PRL|57021-8^CBC W Auto Differential panel^LN"
        "|||20261120095000-0600|||||||20261120120000-0600||2^Okafor^Robert||||||"
        "20261120142500-0600|||F",
        "NTE|1|L|Specimen received at room temperature.",
        "OBX|1|NM|6690-2^WBC # Bld Auto^LN||7.2|10*3/uL^10*3/uL^UCUM|4.5-11.0|N|||F|||"
        "20261120095000-0600",
        "OBX|2|NM|718-7^Hgb Bld-mCnc^LN||6.1|g/dL^^UCUM|12.0-16.0|LL|||F|||20261120095000-0600",
        "NTE|1|L|Critical value called to Dr. Okafor by J. Smith at 14:20.",
        "NTE|2|L|Read back confirmed.",
        "OBX|3|SN|5905-5^Monocytes/leuk NFr Bld Auto^LN||<^2|%|2-10|L|||P",
        "OBX|4|ST|LOCAL1^Smear review^L^33256-9^Smear review^LN||Normal morphology||||||F",
        "OBX|5|CWE|11475-1^Microorganism identified^LN||260385009^Negative^SCT||||||C",
        "OBX|6|TX|18314-6^Morphology^LN||Line one~Line two||||||F",
        "OBX|7|SN|13955-0^Titer^LN||^1^:^128||||||F",
        "SPM|1|||BLD|||||||||||||20261120120500-0600",
        "OBX|8|NM|99999-9^Specimen temperature^LN||22|Cel|||||F",
        "ORC|RE|NORTH-00000002^NORTHFM",
        "OBR|2|NORTH-00000002^NORTHFM||303756^Lipid panel^L|||202611200950||||||||||||||||||X",
        "OBX|1|NM|2093-3^Cholest SerPl-mCnc^LN||||||||X",
    ]
)


def parse(text: str | bytes = ORU):  # type: ignore[no-untyped-def]
    return parse_oru(parse_message(text), tz=CHICAGO)


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(Malformed) as caught:
        parse(text)
    return [(p.location, p.code) for p in caught.value.problems]


def replace_line(text: str, start: str, new: str) -> str:
    lines = text.split("\r")
    [index] = [i for i, line in enumerate(lines) if line.startswith(start)]
    lines[index] = new
    return "\r".join(lines)


def without(text: str, prefix: str) -> str:
    return "\r".join(line for line in text.split("\r") if not line.startswith(prefix))


def test_the_header() -> None:
    header = read_header(parse_message(ORU))
    assert header.sender == "PRLLIS^PRL" and header.receiving_facility == "NORTHFM"
    assert header.control_id == "MSG0001" and header.message_type == "ORU^R01"
    assert header.version == "2.5.1"


def test_the_patient_is_the_mr_identifier_not_the_first() -> None:
    results = parse()
    assert results.control_id == "MSG0001"
    assert results.patient_mrn == "5000123"
    assert (results.patient_family, results.patient_given) == ("Rivera", "Maria")
    assert results.patient_birth_date == dt.date(1980, 3, 4)


def test_without_a_type_the_first_identifier_is_taken() -> None:
    text = ORU.replace("PRL998^^^PRL^PI~5000123^^^NORTH^MR", "5000123")
    assert parse(text).patient_mrn == "5000123"


def test_each_order_group_is_a_report() -> None:
    cbc, lipids = parse().reports
    assert (cbc.placer_number, cbc.filler_number) == ("NORTH-00000001", "F778")
    assert (cbc.loinc, cbc.name, cbc.status) == (
        "57021-8",
        "CBC W Auto Differential panel",
        "final",
    )
    assert cbc.collected_at == dt.datetime(
        2026, 11, 20, 9, 50, tzinfo=dt.timezone(-dt.timedelta(hours=6))
    )
    assert cbc.received_at is not None and cbc.received_at.hour == 12
    assert cbc.issued_at is not None and cbc.issued_at.minute == 25
    assert cbc.note == "Specimen received at room temperature."
    assert cbc.location == "OBR[1]"
    # A lab's own code is not taken for LOINC: the order's test says what it is.
    assert (lipids.loinc, lipids.name, lipids.status) == ("", "Lipid panel", "cancelled")
    assert lipids.filler_number == ""  # neither OBR-3 nor ORC-3
    # No offset: the sender's local time (America/Chicago, CST in November).
    assert lipids.collected_at == dt.datetime(2026, 11, 20, 9, 50, tzinfo=CHICAGO)


def test_each_obx_is_a_result_with_its_notes() -> None:
    cbc = parse().reports[0]
    by_code = {r.loinc: r for r in cbc.results}
    wbc = by_code["6690-2"]
    assert (wbc.value_type, wbc.value_number, wbc.unit) == ("NM", Decimal("7.2"), "10*3/uL")
    assert (wbc.reference_text, wbc.flag, wbc.status, wbc.sequence) == ("4.5-11.0", "N", "final", 1)
    assert wbc.observed_at is not None and wbc.location == "OBX[1]"
    hgb = by_code["718-7"]
    assert hgb.flag == "LL" and hgb.value_number == Decimal("6.1")
    assert (
        hgb.note == "Critical value called to Dr. Okafor by J. Smith at 14:20. Read back confirmed."
    )
    mono = by_code["5905-5"]
    assert (mono.value_type, mono.value_comparator, mono.value_number) == ("SN", "<", Decimal("2"))
    assert mono.status == "preliminary"
    smear = by_code["33256-9"]  # the LOINC from the alternate coding
    assert (smear.value_type, smear.value_text) == ("ST", "Normal morphology")
    culture = by_code["11475-1"]
    assert (culture.value_type, culture.value_code, culture.value_text) == (
        "CWE",
        "260385009",
        "Negative",
    )
    assert culture.status == "corrected"
    assert by_code["18314-6"].value_text == "Line one\nLine two"  # TX repetitions
    titer = by_code["13955-0"]
    assert (titer.value_text, titer.value_number) == ("1:128", None)
    # The OBX after SPM is about the specimen, not a result.
    assert "99999-9" not in by_code and len(cbc.results) == 7
    cancelled = parse().reports[1].results[0]
    assert (cancelled.status, cancelled.value_number) == ("cancelled", None)


@pytest.mark.parametrize("separator", ["\n", "\r\n"])
def test_other_line_ends_and_mllp_framing_are_read(separator: str) -> None:
    text = "\x0b" + ORU.replace("\r", separator) + "\x1c\r"
    assert parse(text) == parse()


# --- what makes it unreadable (AE), each at its place ---------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: without(t, "PID"), [("PID", "100")]),
        (lambda t: without(t, "OBR").replace("ORC|RE|NORTH-00000002", "ZZZ|"), [("OBX[1]", "100")]),
        (
            lambda t: "\r".join(line for line in t.split("\r") if line[:3] in ("MSH", "PID")),
            [("OBR", "100")],
        ),
        (lambda t: t.replace("|7.2|", "|7,2|"), [("OBX[1]-5", "102")]),
        (lambda t: t.replace("|6.1|", "|six|"), [("OBX[2]-5", "102")]),
        (lambda t: t.replace("|7.2|", "|NaN|"), [("OBX[1]-5", "102")]),
        (lambda t: t.replace("|7.2|", "||"), [("OBX[1]-5", "101")]),
        (
            lambda t: t.replace("20261120095000-0600|||||||", "20261340095000-0600|||||||"),
            [("OBR[1]-7", "102")],
        ),
        (lambda t: t.replace("|19800304|", "|1980-03-04|"), [("PID-7", "102")]),
        (lambda t: t.replace("|19800304|", "|19800231|"), [("PID-7", "102")]),
        (lambda t: t.replace("PRL998^^^PRL^PI~5000123^^^NORTH^MR", ""), [("PID-3", "101")]),
        (lambda t: t.replace("|NM|6690-2", "|ED|6690-2"), [("OBX[1]-2", "103")]),
        (
            lambda t: t.replace("|NM|6690-2^WBC # Bld Auto^LN", "|NM|WBC^WBC^L"),
            [("OBX[1]-3", "103")],
        ),
        (lambda t: t.replace("4.5-11.0|N|||F|||", "4.5-11.0|N|||||||"), [("OBX[1]-11", "101")]),
        (lambda t: t.replace("4.5-11.0|N|||F|||", "4.5-11.0|N|||Q|||"), [("OBX[1]-11", "103")]),
        (
            lambda t: t.replace("20261120142500-0600|||F", "20261120142500-0600|||"),
            [("OBR[1]-25", "101")],
        ),
        (
            lambda t: t.replace("20261120142500-0600|||F", "20261120142500-0600|||Y"),
            [("OBR[1]-25", "103")],
        ),
        (lambda t: t.replace("|<^2|", "|<>^2|"), [("OBX[3]-5.1", "102")]),
        (lambda t: t + "\rPID|2||5000999^^^NORTH^MR||Other^Person", [("PID[2]", "100")]),
        (lambda t: t.replace("PV1|1|O", "ZPV|1\rEVN|R01"), [("EVN", "100")]),
    ],
    ids=[
        "no PID",
        "OBX before any OBR",
        "no OBR",
        "NM with a comma",
        "NM in words",
        "NM not finite",
        "empty value",
        "impossible collection time",
        "birth date with dashes",
        "birth date that never was",
        "no patient identifier",
        "unsupported value type",
        "no LOINC",
        "no result status",
        "unknown result status",
        "no report status",
        "unknown report status",
        "bad comparator",
        "two patients",
        "a segment out of place",
    ],
)
def test_unreadable_content_is_named_where_it_is(change, expected) -> None:  # type: ignore[no-untyped-def]
    found = problems(change(ORU))
    for location, code in expected:
        assert (location if location != "EVN" else "EVN[1]", code) in found, found


def test_every_problem_is_reported_at_once() -> None:
    text = ORU.replace("|7.2|", "|x|").replace("|6.1|", "|y|").replace("|19800304|", "|1980|")
    assert problems(text) == [("OBX[1]-5", "102"), ("OBX[2]-5", "102"), ("PID-7", "102")]


def test_the_problem_says_what_is_wrong() -> None:
    with pytest.raises(Malformed) as caught:
        parse(ORU.replace("|6.1|", "|six|"))
    [problem] = caught.value.problems
    assert problem.text == "The value (OBX-2 is NM, a number) 'six' is not a number."


# --- timestamps (HL7 v2.5.1 ch. 2.A.22 DTM) -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", dt.datetime(2026, 1, 1, tzinfo=CHICAGO)),
        ("202611", dt.datetime(2026, 11, 1, tzinfo=CHICAGO)),
        ("20261120", dt.datetime(2026, 11, 20, tzinfo=CHICAGO)),
        ("202611200950", dt.datetime(2026, 11, 20, 9, 50, tzinfo=CHICAGO)),
        ("20261120095012.25", dt.datetime(2026, 11, 20, 9, 50, 12, 250000, tzinfo=CHICAGO)),
        (
            "20261120095012+0530",
            dt.datetime(
                2026, 11, 20, 9, 50, 12, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
            ),
        ),
        (
            "202611200950-0600",
            dt.datetime(2026, 11, 20, 9, 50, tzinfo=dt.timezone(-dt.timedelta(hours=6))),
        ),
    ],
)
def test_timestamps_at_every_precision(text: str, expected: dt.datetime) -> None:
    assert parse_timestamp(text, CHICAGO) == expected


@pytest.mark.parametrize(
    "text", ["2026112", "20261320", "20261120256000", "2026-11-20", "20261120+2500", "x"]
)
def test_impossible_timestamps(text: str) -> None:
    with pytest.raises(ValueError, match=r"not (an HL7|a real)|impossible UTC offset"):
        parse_timestamp(text, CHICAGO)


def test_dates() -> None:
    assert parse_date("19800304") == dt.date(1980, 3, 4)
    assert parse_date("198003041200") == dt.date(1980, 3, 4)  # a TS in PID-7
    with pytest.raises(ValueError, match="not an HL7 date"):
        parse_date("198003")


def test_a_latin_1_message_keeps_its_accents() -> None:
    from medassist.hl7.mllp import FrameReader, frame

    text = ORU.replace("Rivera^Maria", "Rivera^Zoë").replace("|2.5.1", "|2.5.1||||||8859/1", 1)
    latin = b"\x0b" + text.encode("latin-1") + b"\x1c\r"
    [read] = FrameReader().feed(latin)
    assert parse(read).patient_given == "Zoë"
    assert parse(text.encode("latin-1")).patient_given == "Zoë"  # a file, as bytes
    assert FrameReader().feed(frame(text)) == [text]  # UTF-8 as before
