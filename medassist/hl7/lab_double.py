"""A reference lab in a thread, for tests and the benchmark: it listens on 127.0.0.1 only,
takes orders (ORM^O01 / OML^O21) and answers them the way labs do, failures included, and it
sends results back (ORU^R01) the way a lab's interface engine does.

Taking orders is the registry double's job done for a lab (``RegistryDouble``, same modes,
one per message: ``"AA"``, ``"AE"`` with an ERR naming ``error_location`` — OBR-4 by default,
a test the lab does not perform —, ``"AR"``, ``"timeout"``, ``"close"``, and ``script`` for the
first messages in turn). What it took is in ``received``; ``orders`` reads them back.

``result_for(order, values=..., flags=...)`` writes a realistic ORU^R01 for a received order:
the PID as the order sent it, one ORC/OBR per ordered test with our placer number and a filler
number of the lab's, and one OBX per component of the test (a CBC's 10, with the differential
20; a lipid panel's 4; a basic metabolic panel's 8; or the test's own LOINC for a single
analyte), each with its UCUM unit, the lab's reference interval and the flag that value earns
(or the one given in ``flags``). ``push(message, host, port)`` sends it to our listener and
returns the ACK it got.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import hl7

from medassist.hl7.ack import Ack, exchange
from medassist.hl7.er7 import (
    SegmentBuilder,
    declare_charset,
    format_timestamp,
    new_message,
    parse_message,
    segments,
    value,
)
from medassist.hl7.registry_double import Mode, RegistryDouble

__all__ = ["PANELS", "Analyte", "LabDouble"]


@dataclass(frozen=True)
class Analyte:
    """One component the lab reports: LOINC, name, UCUM unit, reference interval, and the
    value a healthy adult would have (what the double reports unless told otherwise)."""

    loinc: str
    name: str
    unit: str
    low: Decimal | None
    high: Decimal | None
    typical: Decimal

    @property
    def reference(self) -> str:
        """OBX-7 as US reference labs print it: "4.5-11.0", "<200", ">40"."""
        if self.low is not None and self.high is not None:
            return f"{self.low}-{self.high}"
        if self.high is not None:
            return f"<{self.high}"
        if self.low is not None:
            return f">{self.low}"
        return ""

    def flag(self, number: Decimal) -> str:
        """HL7 table 0078: L below the interval, H above it, N within."""
        if self.low is not None and number < self.low:
            return "L"
        if self.high is not None and number >= self.high and self.low is None:
            return "H"  # a one-sided "<200": 200 is already high
        if self.high is not None and number > self.high:
            return "H"
        return "N"


def _a(
    loinc: str, name: str, unit: str, low: str | None, high: str | None, typical: str
) -> Analyte:
    return Analyte(
        loinc,
        name,
        unit,
        Decimal(low) if low is not None else None,
        Decimal(high) if high is not None else None,
        Decimal(typical),
    )


# LOINC codes: loinc.org (Regenstrief Institute). OBX-3's text is the name a lab's report
# prints for people (what the chart shows), not LOINC's short name. Reference intervals
# are typical adult intervals as US reference labs print them; they are the double's, for
# tests: each real lab sends its own in OBX-7.
_CBC: Final = (
    _a("6690-2", "White blood cells", "10*3/uL", "4.5", "11.0", "7.2"),
    _a("789-8", "Red blood cells", "10*6/uL", "4.20", "5.40", "4.80"),
    _a("718-7", "Hemoglobin", "g/dL", "12.0", "16.0", "14.1"),
    _a("4544-3", "Hematocrit", "%", "36.0", "46.0", "42.0"),
    _a("787-2", "Mean corpuscular volume (MCV)", "fL", "80", "100", "88"),
    _a("785-6", "Mean corpuscular hemoglobin (MCH)", "pg", "27.0", "33.0", "29.4"),
    _a("786-4", "Mean corpuscular hemoglobin concentration (MCHC)", "g/dL", "32.0", "36.0", "33.6"),
    _a("788-0", "Red cell distribution width (RDW)", "%", "11.5", "14.5", "13.1"),
    _a("777-3", "Platelets", "10*3/uL", "150", "400", "250"),
    _a("32623-1", "Mean platelet volume (MPV)", "fL", "7.5", "11.5", "9.6"),
)
_DIFFERENTIAL: Final = (
    _a("770-8", "Neutrophils, percent", "%", "40", "70", "58"),
    _a("736-9", "Lymphocytes, percent", "%", "20", "40", "30"),
    _a("5905-5", "Monocytes, percent", "%", "2", "10", "7"),
    _a("713-8", "Eosinophils, percent", "%", "1", "4", "3"),
    _a("706-2", "Basophils, percent", "%", "0", "2", "1"),
    _a("751-8", "Neutrophils, absolute", "10*3/uL", "1.8", "7.7", "4.2"),
    _a("731-0", "Lymphocytes, absolute", "10*3/uL", "1.0", "4.8", "2.2"),
    _a("742-7", "Monocytes, absolute", "10*3/uL", "0.2", "0.8", "0.5"),
    _a("711-2", "Eosinophils, absolute", "10*3/uL", "0.0", "0.5", "0.2"),
    _a("704-7", "Basophils, absolute", "10*3/uL", "0.0", "0.2", "0.1"),
)
_LIPIDS: Final = (
    _a("2093-3", "Cholesterol, total", "mg/dL", None, "200", "185"),
    _a("2571-8", "Triglycerides", "mg/dL", None, "150", "120"),
    _a("2085-9", "HDL cholesterol", "mg/dL", "40", None, "55"),
    _a("13457-7", "LDL cholesterol, calculated", "mg/dL", None, "100", "96"),
)
_BMP: Final = (
    _a("2345-7", "Glucose", "mg/dL", "70", "99", "92"),
    _a("3094-0", "Urea nitrogen (BUN)", "mg/dL", "7", "20", "14"),
    _a("2160-0", "Creatinine", "mg/dL", "0.60", "1.30", "0.90"),
    _a("2951-2", "Sodium", "mmol/L", "136", "145", "140"),
    _a("2823-3", "Potassium", "mmol/L", "3.5", "5.1", "4.2"),
    _a("2075-0", "Chloride", "mmol/L", "98", "107", "102"),
    _a("2028-9", "Carbon dioxide, total (CO2)", "mmol/L", "22", "29", "25"),
    _a("17861-6", "Calcium", "mg/dL", "8.6", "10.3", "9.4"),
)
_SINGLE: Final = (
    _a("4548-4", "Hemoglobin A1c", "%", "4.0", "5.6", "5.4"),
    _a("3016-3", "Thyroid stimulating hormone (TSH)", "m[IU]/L", "0.45", "4.50", "2.10"),
)

#: Orderable LOINC → what the lab reports for it.
PANELS: Final[dict[str, tuple[Analyte, ...]]] = {
    "58410-2": _CBC,  # CBC panel - Blood by Automated count
    "57021-8": _CBC + _DIFFERENTIAL,  # CBC W Auto Differential panel - Blood
    "24331-1": _LIPIDS,  # Lipid 1996 panel - Serum or Plasma
    "57698-3": _LIPIDS,  # Lipid panel with direct LDL - Serum or Plasma (reported the same here)
    "51990-0": _BMP,  # Basic metabolic panel - Blood
    "24321-2": _BMP,  # Basic metabolic 2000 panel - Serum or Plasma
    **{a.loinc: (a,) for a in _SINGLE + _BMP},
}


def _order_text(order: str | bytes | Any) -> str | bytes:
    """The ER7 text of an order given as text, parsed (python-hl7 keeps its segments and
    renders them back with str()) or as a record with the text in ``.message``."""
    if isinstance(order, str | bytes):
        return order
    if isinstance(order, hl7.Message):
        return str(order)
    text = getattr(order, "message", None)
    if not isinstance(text, str):
        raise TypeError(
            f"result_for takes an order as text, parsed or with .message, not {type(order)}"
        )
    return text


def _number_text(number: Decimal) -> str:
    return format(number, "f")


class LabDouble(RegistryDouble):
    ack_profile = None  # a lab's ACK names no CDC profile

    def __init__(
        self,
        mode: Mode = "AA",
        *,
        script: Sequence[Mode] = (),
        error_location: str = "OBR-4",
        error_text: str = "Test code not performed by this laboratory",
        application: str = "LAB",
        facility: str = "",
    ) -> None:
        super().__init__(mode, script=script, error_location=error_location, error_text=error_text)
        self.application = application
        self.facility = facility  # "" : answer as whatever the order named (MSH-6)
        self._fillers = itertools.count(1)
        self._messages = itertools.count(1)
        self._numbers = threading.Lock()

    @property
    def orders(self) -> list[Any]:
        """The messages received, parsed (python-hl7)."""
        return [parse_message(m) for m in self.received]

    def _next_filler(self) -> str:
        with self._numbers:
            return f"F{next(self._fillers):07d}"

    def _next_control_id(self) -> str:
        with self._numbers:
            return f"ORU{next(self._messages):07d}"

    def result_for(
        self,
        order_message: str | Any,
        *,
        values: Mapping[str, Decimal | int | float | str] | None = None,
        flags: Mapping[str, str] | None = None,
        status: str = "F",
        control_id: str | None = None,
        notes: Mapping[str, str] | None = None,
        report_note: str = "",
        collected_at: dt.datetime | None = None,
        reported_at: dt.datetime | None = None,
        only: Sequence[str] = (),
    ) -> str:
        """An ORU^R01 with results for the order: its text as received, the order parsed
        (one of ``orders``), or anything with the text in ``.message``, such as an
        OrderMessage.

        ``values`` and ``flags`` change a component's value or flag by LOINC (a text value
        is sent as ST); ``notes`` adds an NTE after a component's OBX; ``status`` is OBR-25
        and, for each OBX, OBX-11 (F, P, C); ``only`` limits it to those placer numbers."""
        order = parse_message(_order_text(order_message))
        values, flags, notes = values or {}, flags or {}, notes or {}
        now = reported_at or dt.datetime.now(tz=dt.UTC)
        source = order.segment("MSH")
        message = new_message()
        msh = SegmentBuilder(message.segment("MSH"))
        msh.put(3, self.application)
        msh.put(4, self.facility or value(source, 6))
        msh.put(5, value(source, 3))
        msh.put(6, value(source, 4))
        msh.put(7, format_timestamp(now))
        msh.put(9, "ORU", comp=1)
        msh.put(9, "R01", comp=2)
        msh.put(9, "ORU_R01", comp=3)
        msh.put(10, control_id or self._next_control_id())
        msh.put(11, "P")
        msh.put(12, "2.5.1")
        # The lab echoes the patient as the order identified them.
        message.append(message.create_segment(list(order.segment("PID"))))
        lab = self.facility or value(source, 6)
        set_id = 0
        for orc, obr in zip(segments(order, "ORC"), segments(order, "OBR"), strict=True):
            placer = value(obr, 2, 1) or value(orc, 2, 1)
            if only and placer not in only:
                continue
            set_id += 1
            filler = value(obr, 3, 1) or self._next_filler()
            code, name = value(obr, 4, 1), value(obr, 4, 2)
            drawn = value(obr, 7) or format_timestamp(collected_at or now)
            out_orc = SegmentBuilder.append_to(message, "ORC")
            out_orc.put(1, "RE")
            out_orc.put(2, placer, comp=1)
            out_orc.put(2, value(obr, 2, 2), comp=2)
            out_orc.put(3, filler, comp=1)
            out_orc.put(3, lab, comp=2)
            out_obr = SegmentBuilder.append_to(message, "OBR")
            out_obr.put(1, str(set_id))
            out_obr.put(2, placer, comp=1)
            out_obr.put(2, value(obr, 2, 2), comp=2)
            out_obr.put(3, filler, comp=1)
            out_obr.put(3, lab, comp=2)
            out_obr.coded(4, code, name, "LN")
            out_obr.put(7, drawn)
            out_obr.put(14, format_timestamp(now))
            out_obr.put_raw(16, str(obr[16]) if len(obr) > 16 else "")
            out_obr.put(22, format_timestamp(now))
            out_obr.put(25, status)
            if report_note:
                nte = SegmentBuilder.append_to(message, "NTE")
                nte.put(1, "1")
                nte.put(2, "L")
                nte.put(3, report_note)
            analytes = PANELS.get(code)
            given = values
            if analytes is None:  # a test the double has no panel for: one text result
                analytes = (Analyte(code, name, "", None, None, Decimal(0)),)
                given = {code: "See report", **values}
            for n, analyte in enumerate(analytes, start=1):
                self._obx(message, n, analyte, given, flags, status, drawn)
                if analyte.loinc in notes:
                    nte = SegmentBuilder.append_to(message, "NTE")
                    nte.put(1, "1")
                    nte.put(2, "L")
                    nte.put(3, notes[analyte.loinc])
        return declare_charset(message)

    @staticmethod
    def _obx(
        message: Any,
        set_id: int,
        analyte: Analyte,
        values: Mapping[str, Decimal | int | float | str],
        flags: Mapping[str, str],
        status: str,
        observed: str,
    ) -> None:
        given = values.get(analyte.loinc, analyte.typical)
        obx = SegmentBuilder.append_to(message, "OBX")
        obx.put(1, str(set_id))
        obx.coded(3, analyte.loinc, analyte.name, "LN")
        number: Decimal | None
        try:
            number = Decimal(str(given))
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite():
            obx.put(2, "ST")
            obx.put(5, str(given))
        else:
            obx.put(2, "NM")
            obx.put(5, _number_text(number))
            obx.coded(6, analyte.unit, analyte.unit, "UCUM")
            obx.put(7, analyte.reference)
        flag = flags.get(analyte.loinc, analyte.flag(number) if number is not None else "")
        obx.put(8, flag)
        obx.put(11, "C" if status == "C" else ("P" if status == "P" else "F"))
        obx.put(14, observed)

    def push(self, message: str, host: str, port: int, *, timeout: float = 10.0) -> Ack:
        """Send a result message to ``host:port`` over MLLP; the ACK it got (MllpError when
        none came)."""
        msh = parse_message(message).segment("MSH")
        return exchange(host, port, message, control_id=value(msh, 10), timeout=timeout)
