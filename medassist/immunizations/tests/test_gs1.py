"""GS1 DataMatrix scans of vaccine packages, checked against real CDC NDCs (no database)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import assume, given
from hypothesis import strategies as st

from medassist.immunizations import gs1
from medassist.immunizations.codes import Catalog, load_catalog
from medassist.immunizations.gs1 import GS, Gs1Error, make_gs1_element_string, parse

TODAY = dt.date(2026, 12, 1)
PEDIARIX_CARTON = "00358160811524"  # 58160-811-52, CDC's GTIN column


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog(Path(settings.REFERENCE_DIR) / "cdsi" / "codes")


def scan(text: str) -> gs1.Gs1Data:
    return parse(text, today=TODAY)


def error_of(text: str) -> str:
    with pytest.raises(Gs1Error) as error:
        scan(text)
    return str(error.value)


# --- real products ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ndc10", "name"),
    [
        ("58160-811-52", "PEDIARIX"),  # 5-3-2, carton
        ("58160-811-43", "PEDIARIX"),  # 5-3-2, syringe
        ("50090-7541-1", "PEDIARIX"),  # 5-4-1, repackager
        ("63361-243-58", "VAXELIS"),
        ("0005-2000-01", "Prevnar 20"),  # 4-4-2
        ("0006-4047-41", "RotaTeq"),  # 4-4-2
        ("50632-001-01", "JYNNEOS"),
    ],
)
def test_real_products_round_trip(cat: Catalog, ndc10: str, name: str) -> None:
    """NDC -> GTIN -> scan -> parse -> the same product."""
    product = cat.product_for_ndc(ndc10)
    assert product is not None and product.proprietary_name == name
    gtin = gs1.gtin_for_ndc(product.ndc10)
    if product.gtin is not None and product.gtin[0] == "0":
        assert gtin == product.gtin
    text = "]d2" + make_gs1_element_string(gtin, "UJ123AA", dt.date(2027, 3, 31), "SN0001")
    data = scan(text)
    assert (data.gtin, data.lot, data.expiry, data.serial) == (
        gtin,
        "UJ123AA",
        dt.date(2027, 3, 31),
        "SN0001",
    )
    assert product.ndc in data.ndc_candidates
    assert 1 <= len(data.ndc_candidates) == len(set(data.ndc_candidates)) <= 3
    assert cat.product_for_gtin(data.gtin) == product


def test_every_cdc_product_round_trips(cat: Catalog) -> None:
    count = 0
    for kind in ("use", "sale"):
        for product in cat.products(active_only=False, kind=kind):
            gtin = gs1.gtin_for_ndc(product.ndc10)
            data = scan(make_gs1_element_string(gtin, "L0T-7", dt.date(2028, 1, 31)))
            assert product.ndc in data.ndc_candidates
            assert cat.product_for_gtin(data.gtin, kind=kind) == product
            count += 1
    assert count == 1063


def test_bracketed_form(cat: Catalog) -> None:
    data = scan(f"(01){PEDIARIX_CARTON}(17)270331(10)UJ123AA")
    assert (data.gtin, data.lot, data.expiry, data.serial) == (
        PEDIARIX_CARTON,
        "UJ123AA",
        dt.date(2027, 3, 31),
        None,
    )
    product = cat.product_for_gtin(data.gtin)
    assert product is not None and product.ndc == "58160-0811-52"
    spaced = scan(f"(01) {PEDIARIX_CARTON} (17) 270331 (10) UJ123AA (21) 99")
    assert (spaced.lot, spaced.serial) == ("UJ123AA", "99")
    assert scan(f"(01){PEDIARIX_CARTON}(10)A(1)B(21)7").lot == "A(1)B"


def test_the_example_in_the_brief_fails_its_own_check_digit(cat: Catalog) -> None:
    message = error_of("(01)00349281042550(17)270331(10)UJ123AA")
    assert message.startswith(
        "The barcode's GTIN check digit is wrong (00349281042550: the last digit should be 3)"
    )
    # With the right check digit it reads, but its digits (4928104255) are the 11-digit
    # Fluzone NDC squeezed in, not the 10-digit NDC, so no product matches.
    data = scan("(01)00349281042553(17)270331(10)UJ123AA")
    assert data.ndc_candidates == ("04928-1042-55", "49281-0042-55", "49281-0425-05")
    assert cat.product_for_gtin(data.gtin) is None


def test_raw_element_string_layout() -> None:
    text = make_gs1_element_string(PEDIARIX_CARTON, "AB12", dt.date(2027, 3, 31), "S1")
    assert text == f"01{PEDIARIX_CARTON}17270331" + "10AB12" + GS + "21S1"
    assert make_gs1_element_string(PEDIARIX_CARTON, "AB12", None) == f"01{PEDIARIX_CARTON}10AB12"
    assert make_gs1_element_string(PEDIARIX_CARTON, "AB12", "270300", bracketed=True) == (
        f"(01){PEDIARIX_CARTON}(17)270300(10)AB12"
    )


def test_ai_order_and_extra_separators_do_not_matter() -> None:
    text = f"{GS}21SN9{GS}10LOT5{GS}17270331{GS}01{PEDIARIX_CARTON}{GS}\r\n"
    data = scan(text)
    assert (data.gtin, data.lot, data.expiry, data.serial) == (
        PEDIARIX_CARTON,
        "LOT5",
        dt.date(2027, 3, 31),
        "SN9",
    )
    assert [ai for ai, _ in data.elements] == ["21", "10", "17", "01"]


def test_production_date_and_counts_are_skipped_by_their_lengths() -> None:
    text = f"01{PEDIARIX_CARTON}11250115" + "17270331" + "30" + "12" + GS + "10LOT" + GS + "21X"
    data = scan(text)
    assert data.production_date == dt.date(2025, 1, 15)
    assert (data.count, data.lot, data.serial) == (12, "LOT", "X")
    assert scan(f"01{PEDIARIX_CARTON}10LOT{GS}37000010").count == 10


def test_a_gtin_that_holds_no_ndc() -> None:
    body = "0950600013435"
    data = scan(f"01{body}{gs1.check_digit(body)}10LOT")
    assert data.ndc_candidates == ()


# --- scanner variations -----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["]d2", "]Q3", "]C1", "", GS])
def test_symbology_identifiers(prefix: str) -> None:
    assert scan(f"{prefix}01{PEDIARIX_CARTON}10LOT").lot == "LOT"


@pytest.mark.parametrize("separator", [GS, "<GS>", "{GS}", "[GS]", "^]", "␝", "\\x1d", "\\u001D"])
def test_group_separator_substitutes(separator: str) -> None:
    data = scan(f"01{PEDIARIX_CARTON}10LOT42{separator}21SER7")
    assert (data.lot, data.serial) == ("LOT42", "SER7")


def test_a_pipe_is_not_taken_for_a_separator() -> None:
    message = error_of(f"01{PEDIARIX_CARTON}10LOT42|21SER7")
    assert message == (
        "Lot number contains '|', which a GS1 barcode cannot carry; set the scanner to send GS "
        "(ASCII 29) between fields"
    )


@pytest.mark.parametrize(
    "text",
    [
        "358160811524",  # UPC-A of PEDIARIX: 3 + NDC + check digit
        "0358160811524",  # the same as EAN-13
        "5816081152",  # the bare NDC
        "]E0358160811524",
        "3 58160 81152 4",
    ],
)
def test_a_linear_barcode_is_recognised(text: str) -> None:
    assert error_of(text).startswith(
        "This looks like a linear UPC/NDC barcode, not the vial's 2D code"
    )


def test_a_symbol_that_is_not_gs1() -> None:
    assert error_of(f"]d101{PEDIARIX_CARTON}10LOT").startswith(
        "The scanner reports a ]d1 symbol, which is not a GS1 barcode"
    )


def test_a_vis_barcode_is_named() -> None:
    for text in ("253088698300005911250131", "(253)088698300005911250131"):
        assert error_of(text).startswith(
            "This is the barcode of a Vaccine Information Statement (VIS), not of a vaccine"
        )


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yymmdd", "expected"),
    [
        ("270200", dt.date(2027, 2, 28)),
        ("280200", dt.date(2028, 2, 29)),
        ("271200", dt.date(2027, 12, 31)),
        ("270400", dt.date(2027, 4, 30)),
        ("270331", dt.date(2027, 3, 31)),
    ],
)
def test_day_00_is_the_last_day_of_the_month(yymmdd: str, expected: dt.date) -> None:
    assert scan(f"01{PEDIARIX_CARTON}17{yymmdd}10LOT").expiry == expected


@pytest.mark.parametrize(
    ("today", "yymmdd", "year"),
    [
        (dt.date(2026, 12, 1), "760101", 2076),  # 50 years ahead: this century
        (dt.date(2026, 12, 1), "770101", 1977),  # 51 ahead: the century before
        (dt.date(2026, 12, 1), "000101", 2000),
        (dt.date(2070, 6, 1), "200101", 2120),  # 50 behind: the next century
        (dt.date(2070, 6, 1), "210101", 2021),  # 49 behind: this century
        (dt.date(2099, 1, 1), "010101", 2101),
        (dt.date(2099, 1, 1), "490101", 2149),
        (dt.date(2099, 1, 1), "500101", 2050),
    ],
)
def test_century_window(today: dt.date, yymmdd: str, year: int) -> None:
    data = parse(f"01{PEDIARIX_CARTON}17{yymmdd}10LOT", today=today)
    assert data.expiry == dt.date(year, 1, 1)


@given(current=st.integers(1960, 2900), offset=st.integers(-49, 50))
def test_full_year_keeps_years_within_the_window(current: int, offset: int) -> None:
    year = current + offset
    assert gs1.full_year(year % 100, current) == year


# --- malformed scans, one message each --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Nothing was scanned"),
        ("  \r\n", "Nothing was scanned"),
        ("]d2", "Nothing was scanned"),
        ("17270331" + "10LOT", "No GTIN (01) in the scanned code"),
        (f"01{PEDIARIX_CARTON}17270331", "No lot number (10) in the scanned code"),
        (f"01{PEDIARIX_CARTON}17271340" + "10LOT", "Expiry 271340 is not a date"),
        (f"01{PEDIARIX_CARTON}17270230" + "10LOT", "Expiry 270230 is not a date"),
        (f"01{PEDIARIX_CARTON}172713" + "01" + "10LOT", "Expiry 271301 is not a date"),
        (f"01{PEDIARIX_CARTON}11259999" + "10LOT", "Production date 259999 is not a date"),
        (f"01{PEDIARIX_CARTON}10LOT{GS}172703", "The expiry (17) must be 6 digits; the scan has 4"),
        (f"010035816081{GS}10LOT", "The GTIN (01) must be 14 digits; the scan has 10"),
        ("01003581608115AB10LOT", "The GTIN (01) must be 14 digits; the scan has '003581608115AB'"),
        (
            "01" + PEDIARIX_CARTON[:-1] + "5" + "10LOT",
            "The barcode's GTIN check digit is wrong (00358160811525: the last digit should be 4)",
        ),
        (f"01{PEDIARIX_CARTON}10" + "A" * 21, "Lot number is longer than 20 characters"),
        (
            f"01{PEDIARIX_CARTON}10UJ123AA21SERIAL0000012345",
            "Lot number is longer than 20 characters (UJ123AA21SERIAL0000012345…); the scanner "
            "may not be sending the group separator (GS)",
        ),
        (f"01{PEDIARIX_CARTON}10LOT{GS}21" + "9" * 21, "Serial number is longer than 20 char"),
        (f"01{PEDIARIX_CARTON}10{GS}21X", "Lot number (10) is empty"),
        (f"01{PEDIARIX_CARTON}10AB C", "Lot number contains ' ', which a GS1 barcode cannot"),
        (f"01{PEDIARIX_CARTON}10LOT{GS}240ABC", "The scan contains application identifier (240)"),
        (f"01{PEDIARIX_CARTON}10LOT{GS}91XYZ", "The scan contains application identifier (91)"),
        (
            f"01{PEDIARIX_CARTON}7003270331120010LOT",
            "The scan contains application identifier (7003)",
        ),
        (f"(01){PEDIARIX_CARTON}(240)X(10)LOT", "The scan contains application identifier (240)"),
        (f"(01){PEDIARIX_CARTON}10LOT", "The scan has '10LOT' where an application identifier in"),
        ("(01)0035816081(10)LOT", "The GTIN (01) must be 14 digits; the scan has 10"),
        (f"01{PEDIARIX_CARTON}10LOT{GS}ABC", "The scan has 'ABC' where an application identifier"),
        (
            f"01{PEDIARIX_CARTON}10LOT1{GS}10LOT2",
            "The scan carries two different values for lot number (10): LOT1 and LOT2",
        ),
        (f"01{PEDIARIX_CARTON}10LOT{GS}30ABC", "The count (30) 'ABC' is not a number"),
        ("01" + "0" * 600, "The scan is far too long"),
    ],
)
def test_malformed_scans(text: str, message: str) -> None:
    assert message in error_of(text)


def test_the_same_ai_twice_with_the_same_value_is_harmless() -> None:
    assert scan(f"01{PEDIARIX_CARTON}10LOT1{GS}10LOT1").lot == "LOT1"


def test_gs1_error_is_a_value_error() -> None:
    assert issubclass(Gs1Error, ValueError)


# --- GTIN from NDC ---------------------------------------------------------------------------


def test_gtin_for_ndc() -> None:
    assert gs1.gtin_for_ndc("58160-811-52") == PEDIARIX_CARTON
    assert gs1.gtin_for_ndc("58160-0811-52") == PEDIARIX_CARTON  # only the product was padded
    assert gs1.gtin_for_ndc("5816081152") == PEDIARIX_CARTON
    assert gs1.gtin_for_ndc("58160-811-43", indicator=1) == "10358160811439"
    with pytest.raises(ValueError) as error:
        gs1.gtin_for_ndc("00006-4047-01")
    assert str(error.value) == (
        "NDC 00006-4047-01 could have been labeled 0006-4047-01 or 00006-4047-1; give the "
        "10-digit NDC printed on the package"
    )
    with pytest.raises(ValueError, match="indicator digit is 0 to 8"):
        gs1.gtin_for_ndc("58160-811-52", indicator=9)
    with pytest.raises(ValueError, match="has 4 digits"):
        gs1.gtin_for_ndc("1234")


def test_make_gs1_element_string_refuses_what_a_barcode_cannot_hold() -> None:
    with pytest.raises(Gs1Error, match="contains 'é'"):
        make_gs1_element_string(PEDIARIX_CARTON, "LOTé", None)
    with pytest.raises(Gs1Error, match="check digit is wrong"):
        make_gs1_element_string("00358160811525", "LOT", None)
    with pytest.raises(Gs1Error, match="must be 14 digits"):
        make_gs1_element_string("358160811524", "LOT", None)
    with pytest.raises(Gs1Error, match="Expiry 2703 is not a date"):
        make_gs1_element_string(PEDIARIX_CARTON, "LOT", "2703")


# --- property: anything valid round-trips ------------------------------------------------------

_CSET82 = "".join(sorted(gs1.CSET82))
_lots = st.text(alphabet=_CSET82, min_size=1, max_size=20)


@st.composite
def _gtins(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=13, max_size=13))
    return body + str(gs1.check_digit(body))


@given(
    gtin=_gtins(),
    lot=_lots,
    expiry=st.dates(dt.date(1977, 1, 1), dt.date(2076, 12, 31)),
    serial=st.none() | _lots,
    prefix=st.sampled_from(["", "]d2", "]Q3", "]C1"]),
)
def test_any_valid_code_round_trips(
    gtin: str, lot: str, expiry: dt.date, serial: str | None, prefix: str
) -> None:
    assume("<GS>" not in lot and (serial is None or "<GS>" not in serial))
    data = scan(prefix + make_gs1_element_string(gtin, lot, expiry, serial))
    assert (data.gtin, data.lot, data.expiry, data.serial) == (gtin, lot, expiry, serial)
    assert bool(data.ndc_candidates) == gs1.is_ndc_gtin(gtin)


_BRACKET_GROUP = re.compile(r"\(\d{2,4}\)")


@given(gtin=_gtins(), lot=_lots, expiry=st.dates(dt.date(1977, 1, 1), dt.date(2076, 12, 31)))
def test_any_valid_code_round_trips_in_brackets(gtin: str, lot: str, expiry: dt.date) -> None:
    assume(not _BRACKET_GROUP.search(lot) and "<GS>" not in lot)
    data = scan(make_gs1_element_string(gtin, lot, expiry, bracketed=True))
    assert (data.gtin, data.lot, data.expiry) == (gtin, lot, expiry)
