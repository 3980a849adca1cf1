"""Reading acknowledgements (every reference message, the IG's ACK examples in particular) and
building them."""

import datetime as dt
import re
from pathlib import Path

import hl7
import pytest

from medassist.core.reference import path as reference_path
from medassist.hl7.ack import Ack, AckError, build_ack, parse_ack
from medassist.hl7.vxu import escape

HL7_DIR = reference_path("cdsi", "hl7")
FIXTURES = sorted(HL7_DIR.rglob("*.hl7"))
IG = "cdc-ig-2.5.1-r1.5-examples"


def read(path: Path) -> str:
    """A reference file as a message: one segment per line there, \\r-separated here."""
    return "\r".join(path.read_text(encoding="utf-8").splitlines())


def test_the_reference_folder_holds_all_twenty_messages() -> None:
    assert len(FIXTURES) == 20


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_every_reference_message_parses(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    message = hl7.parse(read(path))
    assert [str(segment[0]) for segment in message] == [line[:3] for line in lines]
    assert str(message.segment("MSH")[12]) == "2.5.1"


# (code, MSA-2, [(severity, HL70357 code, location, text)]) of each IG ACK example.
ACKS = {
    "02-ack-aa.hl7": ("AA", "9299381", []),
    "03-ack-ar-unsupported-version.hl7": (
        "AR",
        "9299381",
        [("E", "203", "MSH-12", "Unsupported HL7 Version ID\N{EM DASH}Message rejected")],
    ),
    "04-ack-ae-required-field-message-rejected.hl7": (
        "AE",
        "9299381",
        [
            ("E", "101", "PID-5", "Patient name is required"),
            ("E", "100", "PID", "PID is required segment. Message rejected"),
        ],
    ),
    "05-ack-ae-rxa-errors.hl7": (
        "AE",
        "9299381",
        [
            ("E", "103", "RXA-5", "Vaccine code not recognized\N{EM DASH}field rejected"),
            ("E", "101", "RXA-5", "RXA-5 is required segment rejected"),
            ("E", "100", "RXA", "RXA is required segment segment-group rejected"),
        ],
    ),
    # ERL-2 is the segment sequence: "NK1^3" reads as the third NK1 (see AckError).
    "06-ack-ae-segment-rejected.hl7": (
        "AE",
        "9299381",
        [("E", "101", "NK1[3]", "Relationship missing -- segment rejected")],
    ),
    "07-ack-aa-warning.hl7": (
        "AA",
        "9299381",
        [("W", "", "PID[2]", "PID-2 is not supported -- data ignored")],
    ),
    "08-ack-ae-local-business-rule.hl7": (
        "AE",
        "9299381",
        [
            ("E", "101", "PID-7", "Birth data after today"),
            ("E", "100", "PID", "PID is required segment. Message rejected"),
        ],
    ),
    "18-ack-ar-unrecognized-message-type.hl7": ("AR", "", []),
}
NOT_ACKS = [p for p in FIXTURES if p.name not in ACKS]


@pytest.mark.parametrize("name", sorted(ACKS))
def test_ig_ack_examples(name: str) -> None:
    code, control_id, errors = ACKS[name]
    ack = parse_ack(read(HL7_DIR / IG / name))
    assert (ack.code, ack.control_id) == (code, control_id)
    assert [(e.severity, e.code, e.location, e.text) for e in ack.errors] == errors
    assert ack.accepted == (code == "AA")
    assert ack.rejected == (code == "AR")


def test_error_details() -> None:
    ack = parse_ack(read(HL7_DIR / IG / "05-ack-ae-rxa-errors.hl7"))
    first = ack.errors[0]
    assert (first.code_text, first.application_code) == ("table value not found", "5")
    assert ack.raw.startswith("MSH|^~\\&|DCS|MYIIS|MYIIS||") and "\n" not in ack.raw


@pytest.mark.parametrize("path", NOT_ACKS, ids=[p.name for p in NOT_ACKS])
def test_other_messages_are_not_acks(path: Path) -> None:
    kind = str(hl7.parse(read(path)).segment("MSH")[9])
    with pytest.raises(ValueError, match=re.escape(f"not an acknowledgement: MSH-9 is {kind},")):
        parse_ack(read(path))


AA = read(HL7_DIR / IG / "02-ack-aa.hl7")


@pytest.mark.parametrize(
    "text",
    [
        AA,
        AA.replace("\r", "\n"),
        AA.replace("\r", "\r\n") + "\r\n",
        "\x0b" + AA + "\x1c\r",
        ("\x0b" + AA + "\x1c\r").encode(),
        "\ufeff" + AA,
    ],
    ids=["cr", "lf", "crlf", "mllp", "bytes", "bom"],
)
def test_separators_and_framing_are_accepted(text: str | bytes) -> None:
    ack = parse_ack(text)
    assert (ack.code, ack.control_id) == ("AA", "9299381")
    assert ack.raw == AA


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not an HL7 v2 message"),
        ("hello registry", "not an HL7 v2 message"),
        ("MSH|^~\\&|A|B|C|D|20240101||ACK^V04^ACK|1|P|2.5.1", "no MSA"),
        ("MSH|^~\\&|A|B|C|D|20240101||ACK^V04^ACK|1|P|2.5.1\rMSA|ZZ|9", "MSA-1"),
        ("MSH#^~\\&#A#B", "delimiters"),
    ],
)
def test_malformed_input_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ack(text)


def test_older_registries_error_location_in_err_1() -> None:
    text = AA.replace("MSA|AA|", "MSA|AE|") + "\rERR|RXA^1^5^103&Table value not found&HL70357"
    (error,) = parse_ack(text).errors
    assert (error.severity, error.code, error.location) == ("E", "103", "RXA-5")
    assert error.text == "Table value not found"


# --- build_ack -------------------------------------------------------------------------------

VXU = read(HL7_DIR / "nist-iz-ad-2.1_send-v04-z22_adult-td_vxu.hl7")
AT = dt.datetime(2024, 5, 6, 12, 0, tzinfo=dt.UTC)


def test_build_ack_answers_the_message() -> None:
    text = build_ack(VXU, "AA", control_id="ACK-1", sent_at=AT)
    msh = hl7.parse(text).segment("MSH")
    assert [str(msh[n]) for n in (3, 4, 5, 6)] == [
        "NISTIISAPP", "NISTIISFAC", "NISTEHRAPP", "NISTEHRFAC"
    ]  # fmt: skip
    assert str(msh[7]) == "20240506120000+0000"
    assert str(msh[9]) == "ACK^V04^ACK"
    assert (str(msh[10]), str(msh[11]), str(msh[12])) == ("ACK-1", "P", "2.5.1")
    assert str(msh[21]) == "Z23^CDCPHINVS"
    assert parse_ack(text) == Ack(
        code="AA",
        control_id="NIST-IZ-AD-2.1_Send_V04_Z22",
        text="",
        errors=(),
        raw=text.rstrip("\r"),
    )


def test_build_ack_errors_round_trip() -> None:
    errors = [
        AckError("E", "103", "RXA-5", "Vaccine code not recognized", application_code="5"),
        AckError("W", "102", "RXA[2]-5.1", "Odd | text ^ with & delimiters"),
        AckError("E", "101", "PID-13[2].4", "Email missing"),
        AckError("I", "0", "PID", "Patient matched"),
    ]
    text = build_ack(VXU, "AE", errors)
    err = hl7.parse(text).segments("ERR")
    assert str(err[0][2]) == "RXA^1^5"  # ERL as in the IG's example 05
    assert str(err[0][3]) == "103^Table value not found^HL70357"
    assert str(err[0][5]) == "5^^HL70533"
    assert str(err[1][2]) == "RXA^2^5^1^1"
    assert str(err[1][8]) == escape("Odd | text ^ with & delimiters")
    ack = parse_ack(text)
    assert ack.code == "AE"
    assert [(e.severity, e.code, e.location, e.text) for e in ack.errors] == [
        (e.severity, e.code, e.location, e.text) for e in errors
    ]


def test_build_ack_of_a_message_without_control_id() -> None:
    incoming = read(HL7_DIR / IG / "18-ack-ar-unrecognized-message-type.hl7")
    ack = parse_ack(build_ack(incoming, "AR"))
    assert (ack.code, ack.control_id) == ("AR", "")


@pytest.mark.parametrize("code", ["AA", "AE", "AR", "CA", "CE", "CR"])
def test_every_ack_code_can_be_built(code: str) -> None:
    assert parse_ack(build_ack(VXU, code)).code == code


def test_build_ack_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="ack code"):
        build_ack(VXU, "OK")
    with pytest.raises(ValueError, match="not an HL7 v2 message"):
        build_ack("garbage", "AA")
    with pytest.raises(ValueError, match="severity"):
        AckError("X", "101", "PID-5", "")
    with pytest.raises(ValueError, match="location"):
        AckError("E", "101", "PID 5", "")
