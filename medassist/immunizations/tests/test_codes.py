"""CDC code tables read from the real reference files (no database)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import xml.etree.ElementTree as ET  # noqa: S405 - CDC's own files
from pathlib import Path

import pytest
from django.conf import settings

from medassist.immunizations import codes, gs1
from medassist.immunizations.codes import Catalog, load_catalog, normalize_ndc

CODES_DIR = Path(settings.REFERENCE_DIR) / "cdsi" / "codes"
DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog(CODES_DIR)


def _csv_rows(name: str) -> list[dict[str, str]]:
    with (CODES_DIR / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _xml(name: str) -> list[dict[str, str]]:
    root = ET.parse(CODES_DIR / "cdc-source" / name).getroot()  # noqa: S314
    return [{c.tag: (c.text or "").strip() for c in record} for record in root]


# --- loading ---------------------------------------------------------------------------------


def test_every_row_of_every_table_is_loaded(cat: Catalog) -> None:
    assert cat.counts["cvx"] == len(_csv_rows("cvx.csv")) == 288
    assert cat.counts["mvx"] == len(_csv_rows("mvx.csv")) == 89
    assert cat.counts["ndc_use_rows"] == len(_csv_rows("ndc-unit-of-use.csv")) == 510
    assert cat.counts["ndc_sale_rows"] == len(_csv_rows("ndc-unit-of-sale.csv")) == 560
    assert cat.counts["linker_rows"] == len(_csv_rows("ndc-linker.csv")) == 580
    assert cat.counts["vaccine_group_rows"] == len(_csv_rows("cvx-to-vaccine-group.csv"))
    assert cat.counts["cpt_rows"] == len(_csv_rows("cpt-to-cvx.csv")) == 168
    assert cat.counts["vis_editions"] == len(_xml("vis.xml")) == 174
    assert cat.counts["cvxvis_rows"] == len(_xml("cvxvis.xml")) == 548
    # Repeated NDC rows are one product each; 63 NDCs are in both tables.
    distinct = {r["ndc11"] for r in _csv_rows("ndc-unit-of-use.csv")} | {
        r["ndc11"] for r in _csv_rows("ndc-unit-of-sale.csv")
    }
    assert len(cat.products(active_only=False)) == len(distinct) == 1000
    assert cat.counts["ndc_in_both_tables"] == 63
    assert len(cat.vaccines()) == 288


def test_load_catalog_is_cached_per_path(cat: Catalog) -> None:
    assert load_catalog(CODES_DIR) is cat


def test_catalog_reads_settings_reference_dir(settings, tmp_path: Path) -> None:
    shutil.copytree(CODES_DIR, tmp_path / "cdsi" / "codes")
    settings.REFERENCE_DIR = tmp_path
    found = codes.catalog()
    assert found.directory == tmp_path / "cdsi" / "codes"
    assert found.vaccine("110") is not None


def test_a_missing_directory_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_catalog(tmp_path / "nowhere")


# --- CVX, MVX, groups, CPT ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["8", "08", "008", " 8 "])
def test_cvx_8_and_08_are_the_same_vaccine(cat: Catalog, text: str) -> None:
    vaccine = cat.vaccine(text)
    assert vaccine is not None
    assert vaccine.cvx == "08"
    assert vaccine.short_name == "Hep B, adolescent or pediatric"
    assert vaccine.status == "Active"
    assert vaccine.last_updated == dt.date(2024, 12, 16)


def test_vaccine_lookups(cat: Catalog) -> None:
    dtap_hepb_ipv = cat.vaccine("110")
    assert dtap_hepb_ipv is not None and dtap_hepb_ipv.short_name == "DTaP-Hep B-IPV"
    assert cat.vaccine("998") is not None  # "no vaccine administered"
    assert cat.vaccine("5000") is None
    assert cat.vaccine("abc") is None
    assert cat.vaccine("") is None


def test_normalize_cvx_rejects_what_is_not_a_code() -> None:
    assert codes.normalize_cvx("110") == "110"
    with pytest.raises(ValueError, match="is not a number"):
        codes.normalize_cvx("8a")
    with pytest.raises(ValueError, match="more than three digits"):
        codes.normalize_cvx("1100")


def test_manufacturer(cat: Catalog) -> None:
    skb = cat.manufacturer("skb")
    assert skb is not None and skb.name == "GlaxoSmithKline" and skb.status == "Active"
    assert cat.manufacturer("ZZZ") is None


def test_vaccine_groups(cat: Catalog) -> None:
    assert cat.vaccine_groups("110") == ("DTAP", "HepB", "POLIO")
    assert cat.vaccine_groups("8") == ("HepB",)
    assert cat.vaccine_groups("146") == ("HIB", "DTAP", "HepB", "POLIO")
    assert cat.vaccine_groups("5000") == ()


def test_cvx_for_cpt_gives_every_cvx_cdc_maps(cat: Catalog) -> None:
    assert cat.cvx_for_cpt("90700") == ("20", "106")
    assert cat.cvx_for_cpt("90723") == ("110",)
    assert cat.cvx_for_cpt("00000") == ()
    pairs = {
        (r["cpt_code"], codes.normalize_cvx(r["cvx_code"])) for r in _csv_rows("cpt-to-cvx.csv")
    }
    assert {(cpt, cvx) for cpt, _ in pairs for cvx in cat.cvx_for_cpt(cpt)} == pairs


# --- NDC -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("58160-811-52", "58160-0811-52"),  # 5-3-2
        ("0006-4047-41", "00006-4047-41"),  # 4-4-2
        ("50090-7541-1", "50090-7541-01"),  # 5-4-1
        ("58160-0811-52", "58160-0811-52"),  # 5-4-2
        ("58160081152", "58160-0811-52"),  # 11 digits, no dashes
        (" 63361-243-58\n", "63361-0243-58"),
    ],
)
def test_normalize_ndc(text: str, expected: str) -> None:
    assert normalize_ndc(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1234", "NDC 1234 has 4 digits; an NDC has 10 or 11"),
        ("123456789012", "NDC 123456789012 has 12 digits; an NDC has 10 or 11"),
        (
            "5816081152",
            "NDC 5816081152 has 10 digits and no dashes, so it could be 05816-0811-52, "
            "58160-0811-52, 58160-8115-02; type it with its dashes as printed on the package",
        ),
        ("58160-81-152", "NDC 58160-81-152 is laid out 5-2-3; an NDC is 4-4-2, 5-3-2, 5-4-1 or"),
        ("5816-0811-5-2", "NDC 5816-0811-5-2 should have three parts separated by dashes"),
        ("5816O-811-52", "NDC 5816O-811-52 contains 'O'; an NDC has only digits and dashes"),
        ("", "No NDC was given"),
    ],
)
def test_normalize_ndc_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        normalize_ndc(text)
    assert str(error.value).startswith(message)


def test_ndc_forms() -> None:
    assert codes.ndc_candidates("58160-811-52") == ("58160-0811-52",)
    assert codes.ndc_candidates("5816081152") == ("05816-0811-52", "58160-0811-52", "58160-8115-02")
    assert codes.ten_digit_ndcs("58160-0811-52") == ("58160-811-52",)
    assert codes.ten_digit_ndcs("00006-4047-01") == ("0006-4047-01", "00006-4047-1")
    assert codes.ten_digit_ndcs("0006-4047-01") == ("0006-4047-01",)
    with pytest.raises(ValueError, match="none of its parts starts with the padding zero"):
        codes.ten_digit_ndcs("58160-1811-52")


def test_pediarix_carton_in_every_spelling(cat: Catalog) -> None:
    found = {cat.product_for_ndc(t) for t in ("58160-811-52", "58160-0811-52", "58160081152")}
    product = cat.product_for_ndc("5816081152")
    assert product is not None and found == {product}
    assert product.ndc == "58160-0811-52"
    assert product.ndc10 == "58160-811-52"
    assert product.kind == "sale"
    assert product.proprietary_name == "PEDIARIX"
    assert (product.cvx, product.cvx_codes, product.vaccine_name) == (
        "110",
        ("110",),
        "DTaP-Hep B-IPV",
    )
    assert (product.mvx, product.labeler_code, product.route) == ("SKB", "58160", "INTRAMUSCULAR")
    assert product.unit_of_use_ndc == "58160-0811-43"  # from the linker
    assert product.gtin == "00358160811524"
    assert product.end_date is None and product.start_date == dt.date(2009, 7, 24)


def test_unit_of_use_links_back_and_borrows_route(cat: Catalog) -> None:
    syringe = cat.product_for_ndc("58160-0811-43")
    assert syringe is not None and syringe.kind == "use"
    assert syringe.unit_of_sale_ndcs == ("58160-0811-52",)
    assert syringe.unit_of_use_ndc is None and syringe.unit_of_use_ndcs == ()
    assert syringe.route == "INTRAMUSCULAR"
    assert syringe.gtin == "10358160811439"  # indicator 1: a packaging level inside the carton
    assert syringe.no_inner is False


def test_layouts_of_real_products(cat: Catalog) -> None:
    rotateq = cat.product_for_ndc("0006-4047-41")  # 4-4-2
    assert rotateq is not None and rotateq.cvx == "116" and rotateq.mvx == "MSD"
    assert rotateq.unit_of_use_ndcs == ("00006-4047-01", "00006-4047-02")
    assert rotateq.unit_of_use_ndc is None  # two unit-of-use NDCs: none is "the" one
    repackaged = cat.product_for_ndc("50090-7541-1")  # 5-4-1
    assert repackaged is not None and repackaged.ndc == "50090-7541-01"
    assert repackaged.labeler == "A-S Medication Solutions"
    assert repackaged.unit_of_sale_ndcs == ("50090-7541-00",)
    vaxelis = cat.product_for_ndc("63361-243-58")
    assert vaxelis is not None and vaxelis.cvx == "146"
    prevnar20 = cat.product_for_ndc("0005-2000-01")
    assert prevnar20 is not None and prevnar20.cvx == "216" and prevnar20.mvx == "PFR"


def test_a_kit_links_each_component(cat: Catalog) -> None:
    pentacel = cat.product_for_ndc("49281-0510-05")
    assert pentacel is not None and pentacel.cvx == "120"
    assert pentacel.unit_of_use_ndcs == ("49281-0545-15", "49281-0548-58", "49281-0560-05")
    assert pentacel.unit_of_use_ndc is None


def test_cdc_data_quirks_are_handled(cat: Catalog) -> None:
    engerix = cat.product_for_ndc("58160-0821-11")  # two rows: CVX 43 and 44
    assert engerix is not None and engerix.cvx_codes == ("43", "44") and engerix.cvx == "43"
    fluad = cat.product_for_ndc("70461-0020-03")  # unit-of-use id 3007 is shared
    assert fluad is not None and fluad.unit_of_use_ndcs == ("70461-0020-04",)
    fluvirin = cat.product_for_ndc("66521-0114-02", kind="use")
    assert fluvirin is not None and fluvirin.unit_of_sale_ndcs == ("66521-0114-02",)
    assert fluvirin.mvx_codes == ("NOV",)
    ixiaro = cat.product_for_ndc("42515-0001-01", kind="sale")
    assert ixiaro is not None and ixiaro.mvx_codes == ("VAL", "INT")
    thirteen = cat.product_for_ndc("80631-0207-01")
    assert thirteen is not None and thirteen.gtin == "00380631207017"
    garbled = cat.product_for_ndc("54868-6177-00", kind="sale")
    assert garbled is not None
    assert "Â" not in garbled.generic_name and "\xa0" not in garbled.generic_name
    assert "inactivated) injection, suspension (2010-2011" in garbled.generic_name


def test_an_ndc_in_both_tables(cat: Catalog) -> None:
    use = cat.product_for_ndc("49281-0913-01")
    sale = cat.product_for_ndc("49281-0913-01", kind="sale")
    assert use is not None and sale is not None
    assert (use.kind, sale.kind) == ("use", "sale")
    assert use.no_inner is True
    assert sale.unit_of_use_ndc == "49281-0913-01"
    no_inner = [p for p in cat.products(active_only=False, kind="use") if p.no_inner]
    assert no_inner and all(cat.product_for_ndc(p.ndc, kind="sale") for p in no_inner)


def test_unknown_and_malformed_ndcs(cat: Catalog) -> None:
    assert cat.product_for_ndc("12345-6789-01") is None
    assert cat.product_for_ndc("58160-811-52", kind="use") is None
    with pytest.raises(ValueError, match="NDC 1234 has 4 digits; an NDC has 10 or 11"):
        cat.product_for_ndc("1234")


def test_every_product_is_found_by_its_ndc_in_each_form(cat: Catalog) -> None:
    for kind in ("use", "sale"):
        for product in cat.products(active_only=False, kind=kind):
            for text in (product.ndc, product.ndc10, product.ndc10.replace("-", "")):
                assert cat.product_for_ndc(text, kind=kind) == product, (kind, text)


def test_every_cdc_gtin_is_what_gs1_rules_give(cat: Catalog) -> None:
    checked = 0
    for kind in ("use", "sale"):
        for product in cat.products(active_only=False, kind=kind):
            if product.gtin is None:
                continue
            indicator = int(product.gtin[0])
            assert gs1.gtin_for_ndc(product.ndc10, indicator=indicator) == product.gtin
            assert cat.product_for_gtin(product.gtin, kind=kind) == product
            checked += 1
    assert checked == 467


def test_jynneos_and_rabavert_share_ten_digits_read_two_ways(cat: Catalog) -> None:
    jynneos_gtin = gs1.gtin_for_ndc("50632-001-01")
    candidates = gs1.ndc_candidates_for_gtin(jynneos_gtin)
    listed = [c for c in candidates if cat.product_for_ndc(c)]
    assert sorted(listed) == ["50632-0001-01", "50632-0010-01"]  # both exist
    found = cat.product_for_gtin(jynneos_gtin)
    assert found is not None and found.proprietary_name == "JYNNEOS"
    assert found.ndc == "50632-0001-01"
    rabavert = cat.product_for_ndc("50632-0010-01")
    assert rabavert is not None and rabavert.proprietary_name == "RabAvert"
    assert rabavert.ndc10 == "50632-010-01"


def test_product_for_gtin_without_a_product(cat: Catalog) -> None:
    body = "0950600013435"  # a GS1 example GTIN, not an NDC
    assert cat.product_for_gtin(body + str(gs1.check_digit(body))) is None
    body = "0031234567890"  # an NDC-shaped GTIN CDC does not list
    assert cat.product_for_gtin(body + str(gs1.check_digit(body))) is None
    with pytest.raises(gs1.Gs1Error, match="check digit is wrong"):
        cat.product_for_gtin("00358160811525")


# --- products for a choice list --------------------------------------------------------------


def test_products_are_active_and_sorted_by_name(cat: Catalog) -> None:
    active = cat.products(on=DAY)
    assert active
    assert all(p.is_active(DAY) for p in active)
    keys = [(p.proprietary_name.casefold(), p.ndc) for p in active]
    assert keys == sorted(keys)
    assert len({p.ndc for p in active}) == len(active)
    pediarix = next(p for p in active if p.ndc == "58160-0811-43")
    assert pediarix.label == "PEDIARIX — DTaP-Hep B-IPV (58160-0811-43, SYRINGE)"
    assert len(active) < len(cat.products(active_only=False))


def test_products_honour_end_dates_and_kind(cat: Catalog) -> None:
    prevnar13 = "00005-1971-02"  # carton, end date 2025-09-30
    assert prevnar13 not in {p.ndc for p in cat.products(on=DAY)}
    assert prevnar13 in {p.ndc for p in cat.products(on=dt.date(2025, 1, 1))}
    sales = cat.products(kind="sale", on=DAY)
    assert sales and {p.kind for p in sales} == {"sale"}
    uses = cat.products(kind="use", on=DAY)
    assert uses and {p.kind for p in uses} == {"use"}


# --- VIS -------------------------------------------------------------------------------------


def test_vis_for_cvx_110_is_what_cvxvis_maps(cat: Catalog) -> None:
    documents = cat.vis_for_cvx("110")
    assert [(d.name, d.edition_date) for d in documents] == [
        ("DTaP (Diphtheria, Tetanus, Pertussis) Vaccine VIS", dt.date(2021, 8, 6)),
        ("Hepatitis B Vaccine VIS", dt.date(2025, 1, 31)),
        ("Multi Pediatric Vaccines VIS", dt.date(2023, 7, 24)),
        ("Polio Vaccine VIS", dt.date(2025, 1, 31)),
    ]
    mapped = {
        m["Fully-encodedString"]
        for m in _xml("cvxvis.xml")
        if m["CVXCode"] == "110" and m["Status"] == "Current"
    }
    assert {d.encoded_text for d in documents} == mapped
    assert all(d.status == "Current" and d.url and d.url.endswith(".pdf") for d in documents)
    multi = documents[2]
    assert multi.encoded_text == "253088698300026411230724" and multi.gdti == "0886983000264"


def test_vis_for_cvx_8_and_unknown(cat: Catalog) -> None:
    names = [d.name for d in cat.vis_for_cvx("8")]
    assert names == ["Hepatitis B Vaccine VIS", "Multi Pediatric Vaccines VIS"]
    assert cat.vis_for_cvx("08") == cat.vis_for_cvx("8")
    assert cat.vis_for_cvx("5000") == ()


def test_only_current_editions_are_given(cat: Catalog) -> None:
    assert cat.vis_for_cvx("62") == ()  # HPV quadrivalent: only the retired Gardasil VIS
    assert cat.vis_for_cvx("208") == ()  # COVID-19 EUA fact sheets, all historic
    given = 0
    for vaccine in cat.vaccines():
        documents = cat.vis_for_cvx(vaccine.cvx)
        assert all(d.status == "Current" for d in documents), vaccine.cvx
        assert len({d.gdti for d in documents}) == len(documents)
        given += bool(documents)
    assert given == cat.counts["cvx_with_current_vis"] == 74


def test_every_vis_edition_is_encoded_as_cdc_describes(cat: Catalog) -> None:
    off_date = []
    for record in _xml("vis.xml"):
        doc = cat.vis_document(record["VIS_encoded_string"])
        assert doc is not None
        assert doc.encoded_text[:18] == f"253{doc.gdti}11"
        if doc.encoded_text[18:] != f"{doc.edition_date:%y%m%d}":
            off_date.append(doc)
        assert (doc.url is not None) == (doc.status == "Current")
    # CDC data: only historic COVID-19 EUA fact sheets carry a date that is not the edition's.
    assert len(off_date) == 20
    assert all("EUA" in d.name and d.status == "Historic" for d in off_date)
    pfizer = cat.vis_document("253088698300033211201201")
    assert pfizer is not None and pfizer.edition_date == dt.date(2021, 4, 6)
    historic = cat.vis_document("253088698300005911230512")
    assert historic is not None and historic.status == "Historic" and historic.url is None
