"""Point-of-care testing pages: the menu with each test's status today, a visit's tests and the
run page (locked, with the reasons and links to fix them, until the kit, the QC and the
operator's competency allow it), the QC page, the QC log for an inspector (print and PDF), the
kits and controls, the test menu and staff competencies. Thin: parse input, call one service or
selector, render. Every write is a service's; every read a selector's, scoped to the actor's
clinics (404 outside them) and audited."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from medassist.access.permissions import Permission
from medassist.clinics.models import Clinic
from medassist.core import clock
from medassist.core.forms import GENERAL, errors_by_field, safe_next
from medassist.poct import forms, lockout, pdf, selectors, services
from medassist.poct.models import PocTest, PocTestRun

QC_LOG_DEFAULT_DAYS = 31


def _form_errors(form: Any) -> dict[str, list[str]]:
    found = forms.errors_of(form)
    if NON_FIELD_ERRORS in found:
        found[GENERAL] = found.pop(NON_FIELD_ERRORS)
    return found


def _actor(request: HttpRequest) -> Any:
    return request.actor  # type: ignore[attr-defined]


def _clinic(request: HttpRequest, *perms: Permission, message: str) -> tuple[Clinic, list[Clinic]]:
    clinics = selectors.clinics_with(_actor(request), *perms)
    if not clinics:
        raise PermissionDenied(message)
    code = request.POST.get("clinic") or request.GET.get("clinic")
    return next((c for c in clinics if c.code == code), clinics[0]), clinics


def _kits_url(clinic: Clinic, test: PocTest) -> str:
    """The Kits page of the (test's) clinic, at the test."""
    return reverse("poct:kits") + f"?clinic={clinic.code}#test-{test.public_id}"


def _fix_links(test: PocTest, back: str) -> dict[str, str]:
    """Where each lockout reason is fixed (lockout.PAGES), coming back to `back` after."""
    code = test.clinic.code
    return {
        "qc": reverse("poct:qc", kwargs={"test_id": test.public_id})
        + "?"
        + urlencode({"next": back}),
        "kits": _kits_url(test.clinic, test),
        "competencies": reverse("poct:competencies") + f"?clinic={code}",
        "menu": reverse("poct:edit-test", kwargs={"test_id": test.public_id}),
    }


_NO_POCT = "Your role does not run point-of-care tests."


@dataclass(frozen=True)
class Shown:
    """A lockout reason with the link to the page that fixes it ("" when the viewer may not
    open that page: the reason says who does it)."""

    reason: lockout.Reason
    url: str
    label: str = ""  # the link's words where the page's own name would mislead


@dataclass(frozen=True)
class Row:
    status: selectors.TestStatus | selectors.LotStatus
    shown: list[Shown]


def _shown(request: HttpRequest, test: PocTest, reasons: list, back: str) -> list[Shown]:
    links = _fix_links(test, back)
    pages = selectors.fix_pages(_actor(request), test)
    return [Shown(r, links[r.page] if r.page in pages else "") for r in reasons]


def _rows(request: HttpRequest, found: list[selectors.TestStatus], back: str) -> list[Row]:
    return [Row(s, _shown(request, s.test, s.reasons, back)) for s in found]


# -- Home ------------------------------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    clinic, clinics = _clinic(request, *services.POCT_PERMISSIONS, message=_NO_POCT)
    page = selectors.home(_actor(request), clinic, clinics)
    rows = _rows(request, page.tests, request.get_full_path())
    context = {"page": page, "clinic": clinic, "clinics": clinics, "rows": rows}
    return render(request, "poct/home.html", context)


# -- A visit's tests -------------------------------------------------------------------------------


@login_required
@require_GET
def visit(request: HttpRequest, encounter_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    found = selectors.visit_for_testing(actor, encounter_id)
    page = selectors.visit_tests(actor, found)
    rows = _rows(request, page.tests, request.path)
    return render(request, "poct/visit.html", {"page": page, "visit": found, "rows": rows})


def _run_context(
    request: HttpRequest,
    page: selectors.RunPage,
    form: forms.RunForm,
    errors: dict[str, list[str]] | None = None,
    locked_reasons: list | None = None,
) -> dict[str, Any]:
    if locked_reasons is None:
        locked_reasons = [] if page.status.ready else page.status.reasons
    return {
        "page": page,
        "visit": page.visit,
        "test": page.test,
        "form": form,
        "errors": errors or {},
        "shown": _shown(request, page.test, locked_reasons, request.path),
        "locked": bool(locked_reasons),
        "links": _fix_links(page.test, request.path),
        "today": clock.today(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def run(request: HttpRequest, encounter_id: uuid.UUID, test_id: uuid.UUID) -> HttpResponse:
    """Run one test for the visit's patient. While the test is locked the page says exactly
    why, with a link to fix each reason, and the form is disabled; the service enforces the
    lockout again when the form is posted."""
    actor = _actor(request)
    found = selectors.visit_for_testing(actor, encounter_id)
    page = selectors.run_page(actor, found, test_id)
    ready = _offered(page)
    if request.method == "GET":
        form = forms.RunForm(test=page.test, kit_lots=ready)
        return render(request, "poct/run.html", _run_context(request, page, form))
    form = forms.RunForm(request.POST, test=page.test, kit_lots=ready)
    status = 422
    errors: dict[str, list[str]] = {}
    locked: list | None = None
    if not page.status.ready:
        locked = page.status.reasons
    elif not form.is_valid():
        errors = _form_errors(form)
    else:
        lot = form.kit_lots[form.cleaned_data["kit_lot"]]
        try:
            done = services.run_test(
                actor=actor,
                encounter=found,
                test=page.test,
                kit_lot=lot,
                confirm_birth_date=form.cleaned_data["confirm_birth_date"],
                values=form.values(),
                internal_control_valid=form.internal(),
            )
        except services.Locked as exc:
            locked = exc.reasons
        except ValidationError as exc:
            errors = errors_by_field(exc)
            forms.add_errors(form, {k: v for k, v in errors.items() if k != GENERAL})
        except PermissionDenied as exc:
            errors, status = {GENERAL: [str(exc)]}, 403
        else:
            return _ran(request, done)
    if locked is not None:
        page = selectors.run_page(actor, found, test_id)
        form = forms.RunForm(request.POST, test=page.test, kit_lots=_offered(page))
        form.is_valid()
    context = _run_context(request, page, form, errors, locked_reasons=locked)
    return render(request, "poct/run.html", context, status=status)


def _offered(page: selectors.RunPage) -> list:
    """The kit lots the form offers: the ready ones; while locked (the form disabled), every
    lot in use, so the page shows which lot the reasons are about."""
    ready = [s.lot for s in page.status.ready_lots]
    return ready or [s.lot for s in page.status.lots]


def _ran(request: HttpRequest, done: PocTestRun) -> HttpResponse:
    provider = services.person(done.ordering_provider)
    if done.status == PocTestRun.Status.INVALID:
        messages.warning(
            request,
            f"{done.test.name}: invalid, so nothing was reported. Repeat the test with a new "
            f"device (kit lot {done.kit_lot.lot_number}) and record the new result.",
        )
    elif done.report is not None and done.report.critical:
        # A critical value is told to the provider at once, not left in the inbox (the
        # clinic's critical-value policy; The Joint Commission NPSG.02.03.01).
        messages.warning(
            request,
            f"{done.test.name} recorded: a critical value. {provider} has a stat alert; tell "
            "them now, in person or by phone, and stay with the patient.",
        )
    else:
        messages.success(
            request,
            f"{done.test.name} recorded and sent to {provider}'s results inbox. The provider "
            "reviews it and tells you what to tell the patient.",
        )
    return redirect(reverse("poct:visit", kwargs={"encounter_id": done.encounter.public_id}))


# -- QC --------------------------------------------------------------------------------------------


def _qc_context(
    request: HttpRequest,
    page: selectors.QcPage,
    form: forms.QcForm,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    back = request.get_full_path()

    def here(shown: list[Shown]) -> list[Shown]:
        # On the QC page itself, a QC reason points at the form or the failures below.
        failures = {"qc_failed", "corrective_action_missing"}
        return [
            Shown(
                s.reason,
                "#failures" if s.reason.code in failures else "#run-title",
                "see below" if s.reason.code in failures else "run them below",
            )
            if s.reason.page == "qc"
            else s
            for s in shown
        ]

    return {
        "page": page,
        "test": page.test,
        "form": form,
        "errors": errors or {},
        "lots": [
            Row(s, here(_shown(request, page.test, s.reasons, back))) for s in page.status.lots
        ],
        "general": here(_shown(request, page.test, page.status.general, back)),
        "next": safe_next(request, ""),
        "links": _fix_links(page.test, request.get_full_path()),
        "corrective_form": forms.CorrectiveActionForm(),
    }


def _qc_form(page: selectors.QcPage, data: Any = None) -> forms.QcForm:
    lots = [s.lot for s in page.status.lots if not s.lot.expired_on(page.today)]
    form = forms.QcForm(data, test=page.test, kit_lots=lots, controls=page.controls)
    if data is None:
        # Default the lot to the first locked one, and the reason to what it is locked for.
        locked = next((s for s in page.status.lots if not s.ready), None)
        if locked is not None:
            form.initial["kit_lot"] = str(locked.lot.public_id)
            codes = {r.code for r in locked.reasons}
            form.initial["reason"] = next(
                (c for c in ("new_lot", "new_shipment") if c in codes), "scheduled"
            )
        else:
            form.initial["reason"] = "scheduled"
    return form


@login_required
@require_http_methods(["GET", "POST"])
def qc(request: HttpRequest, test_id: uuid.UUID) -> HttpResponse:
    """Run the external controls: each required level's control lot and what the device
    showed. Passed or failed is computed, never typed."""
    actor = _actor(request)
    test = selectors.get_test(actor, test_id)
    page = selectors.qc_page(actor, test)
    if request.method == "GET":
        return render(request, "poct/qc.html", _qc_context(request, page, _qc_form(page)))
    form = _qc_form(page, request.POST)
    errors: dict[str, list[str]] = {}
    status = 422
    if not form.is_valid():
        errors = _form_errors(form)
    else:
        lot, entries, problems = form.entries()
        if problems or lot is None:
            errors = {k: [v] for k, v in problems.items()}
            if lot is None:
                errors["kit_lot"] = ["Choose the kit lot the controls were run on."]
            forms.add_errors(form, {k: v for k, v in errors.items() if k != "__all__"})
            if "__all__" in errors:
                errors[GENERAL] = errors.pop("__all__")
        else:
            try:
                runs = services.record_controls(
                    actor=actor, kit_lot=lot, entries=entries, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                errors = errors_by_field(exc)
                if "lockout" in errors:
                    errors[GENERAL] = errors.pop("lockout")
            except PermissionDenied as exc:
                errors, status = {GENERAL: [str(exc)]}, 403
            else:
                return _controls_recorded(request, test, lot.lot_number, runs)
    return render(request, "poct/qc.html", _qc_context(request, page, form, errors), status=status)


def _controls_recorded(
    request: HttpRequest, test: PocTest, lot_number: str, runs: list
) -> HttpResponse:  # noqa: E501
    parts = [
        f"{test.level_label(r.level).lower()} {'passed' if r.passed else 'FAILED'}" for r in runs
    ]
    text = f"Controls recorded on lot {lot_number}: {', '.join(parts)}."
    failed = [r for r in runs if not r.passed]
    if failed:
        why = "; ".join(p for r in failed for p in r.problems)
        messages.error(
            request,
            f"{text} {why}. Record the corrective action below; the lot stays locked until a "
            "control passes.",
        )
        return redirect(reverse("poct:qc", kwargs={"test_id": test.public_id}) + "#failures")
    messages.success(request, text)
    back = reverse("poct:qc", kwargs={"test_id": test.public_id})
    return redirect(safe_next(request, back))


@login_required
@require_POST
def corrective_action(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    found = selectors.get_qc_run(actor, run_id)
    form = forms.CorrectiveActionForm(request.POST)
    back = reverse("poct:qc", kwargs={"test_id": found.test.public_id})
    if not form.is_valid():
        messages.error(request, " ".join(m for ms in _form_errors(form).values() for m in ms))
        return redirect(back + "#failures")
    try:
        services.record_corrective_action(
            actor=actor, run=found, action=form.cleaned_data["action"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in errors_by_field(exc).values() for m in ms))
        return redirect(back + "#failures")
    messages.success(
        request,
        f"Corrective action recorded for the {found.test.level_label(found.level).lower()} "
        f"control on lot {found.kit_lot.lot_number}. Run the control again: it must pass.",
    )
    return redirect(safe_next(request, back))


def _dates(request: HttpRequest) -> tuple[dt.date, dt.date]:
    form = forms.QcLogForm(request.GET)
    today = clock.today()
    start = end = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    end = end or today
    start = start or end - dt.timedelta(days=QC_LOG_DEFAULT_DAYS - 1)
    return start, end


@login_required
@require_GET
def qc_log(request: HttpRequest, test_id: uuid.UUID) -> HttpResponse:
    """The QC log for a date range: printable (print CSS) and as a PDF (?format=pdf)."""
    actor = _actor(request)
    test = selectors.get_test(actor, test_id, Permission.RUN_QC, Permission.MANAGE_POCT)
    start, end = _dates(request)
    as_pdf = request.GET.get("format") == "pdf"
    log = selectors.qc_log(actor, test, start, end, printing=as_pdf)
    context = {"log": log, "test": test}
    if as_pdf:
        html = render_to_string("poct/qc_log_pdf.html", context, request=request)
        response = HttpResponse(pdf.render(html), content_type="application/pdf")
        name = f"qc-log-{test.kind}-{log.start:%Y%m%d}-{log.end:%Y%m%d}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response
    return render(request, "poct/qc_log.html", context)


# -- Kits and controls -----------------------------------------------------------------------------

_NO_KITS = "Your role does not manage point-of-care kits."


def _kits_page(
    request: HttpRequest,
    clinic: Clinic,
    clinics: list[Clinic],
    *,
    errors: dict[str, list[str]] | None = None,
    errors_for: str = "",
    status: int = 200,
) -> HttpResponse:
    page = selectors.kits_page(_actor(request), clinic, clinics)
    context = {
        "page": page,
        "clinic": clinic,
        "clinics": clinics,
        "errors": errors or {},
        "errors_for": errors_for,
        "posted": request.POST,
    }
    return render(request, "poct/kits.html", context, status=status)


@login_required
@require_GET
def kits(request: HttpRequest) -> HttpResponse:
    clinic, clinics = _clinic(request, Permission.MANAGE_POCT, Permission.RUN_QC, message=_NO_KITS)
    return _kits_page(request, clinic, clinics)


@login_required
@require_POST
def receive_kit(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    clinic, clinics = _clinic(request, Permission.MANAGE_POCT, Permission.RUN_QC, message=_NO_KITS)
    form = forms.KitLotForm(request.POST)
    if not form.is_valid():
        test_key = str(request.POST.get("test", ""))[:40]
        return _kits_page(
            request, clinic, clinics, errors=_form_errors(form), errors_for=test_key, status=422
        )
    data = form.cleaned_data
    test = selectors.get_test(actor, data["test"], Permission.MANAGE_POCT, Permission.RUN_QC)
    clinic = next((c for c in clinics if c.pk == test.clinic_id), clinic)
    try:
        lot = services.receive_kit_lot(
            actor=actor,
            test=test,
            lot_number=data["lot_number"],
            expires_on=data["expires_on"],
            shipment=data["shipment"],
            received_on=data["received_on"],
            tests_received=data["tests_received"],
        )
    except ValidationError as exc:
        return _kits_page(
            request,
            clinic,
            clinics,
            errors=errors_by_field(exc),
            errors_for=str(test.public_id),
            status=422,
        )
    messages.success(
        request,
        f"Received {test.name} kit lot {lot.lot_number} (shipment {lot.shipment}). "
        + (
            "Run its controls before the first patient test."
            if test.qc_on_new_lot or test.qc_on_new_shipment
            else ""
        ),
    )
    return redirect(_kits_url(clinic, test))


@login_required
@require_POST
def retire_kit(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    lot = selectors.get_kit_lot(actor, lot_id)
    done = f"Kit lot {lot.lot_number} of {lot.test.name} taken out of use."
    return _retire(request, actor, lot, services.retire_kit_lot, "Kit lot", done)


@login_required
@require_http_methods(["GET", "POST"])
def receive_control(request: HttpRequest, test_id: uuid.UUID) -> HttpResponse:
    """Receive a control lot for a test: its level and the reading or range it must give."""
    actor = _actor(request)
    test = selectors.get_test(actor, test_id, Permission.MANAGE_POCT, Permission.RUN_QC)
    if request.method == "GET":
        form = forms.ControlLotForm(initial={"level": request.GET.get("level", "")}, test=test)
        return render(request, "poct/control_form.html", {"test": test, "form": form})
    form = forms.ControlLotForm(request.POST, test=test)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            lot = services.receive_control_lot(
                actor=actor,
                test=test,
                level=data["level"],
                lot_number=data["lot_number"],
                expires_on=data["expires_on"],
                expected=form.expectations(),
                product=data["product"],
                received_on=data["received_on"],
            )
        except ValidationError as exc:
            forms.add_errors(form, errors_by_field(exc))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            messages.success(
                request,
                f"Received the {test.level_label(lot.level).lower()} control lot "
                f"{lot.lot_number} for {test.name}.",
            )
            return redirect(safe_next(request, _kits_url(test.clinic, test)))
    return render(request, "poct/control_form.html", {"test": test, "form": form}, status=status)


@login_required
@require_POST
def retire_control(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    lot = selectors.get_control_lot(actor, lot_id)
    done = f"Control lot {lot.lot_number} taken out of use."
    return _retire(request, actor, lot, services.retire_control_lot, "Control lot", done)


def _retire(
    request: HttpRequest, actor: Any, lot: Any, retire: Callable[..., object], what: str, done: str
) -> HttpResponse:
    """Take a kit or control lot (`what`) out of use with the form's reason, back to the Kits
    page at its test; what happened (`done`, or why not) is said in a message there."""
    form = forms.RetireForm(request.POST)
    where = _kits_url(lot.clinic, lot.test)
    if not form.is_valid():
        messages.error(request, f"{what} {lot.lot_number}: say why it is taken out of use.")
        return redirect(where)
    try:
        retire(actor=actor, lot=lot, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(m for ms in errors_by_field(exc).values() for m in ms))
    else:
        messages.success(request, done)
    return redirect(where)


# -- The test menu ---------------------------------------------------------------------------------

_NO_MENU = "Only the clinic manager changes the point-of-care test menu."


@login_required
@require_http_methods(["GET", "POST"])
def menu(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    clinic, clinics = _clinic(request, Permission.MANAGE_POCT, message=_NO_MENU)
    form = forms.AddTestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                test = services.configure_test(
                    actor=actor, clinic_id=clinic.pk, config=form.to_config()
                )
            except ValidationError as exc:
                forms.add_errors(form, errors_by_field(exc))
            else:
                messages.success(
                    request, f"{test.name} is on the menu. Check its QC policy against the insert."
                )
                return redirect(reverse("poct:edit-test", kwargs={"test_id": test.public_id}))
    tests = selectors.menu_tests(clinic, active_only=False)
    context = {"clinic": clinic, "clinics": clinics, "tests": tests, "form": form}
    return render(request, "poct/menu.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def edit_test(request: HttpRequest, test_id: uuid.UUID) -> HttpResponse:
    actor = _actor(request)
    test = selectors.get_test(actor, test_id, Permission.MANAGE_POCT)
    form = forms.EditTestForm(request.POST or None, test=test)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.configure_test(
                    actor=actor, clinic_id=test.clinic_id, config=form.to_config(), test=test
                )
            except ValidationError as exc:
                forms.add_errors(form, errors_by_field(exc))
            else:
                messages.success(request, f"Saved {test.name}.")
                return redirect(reverse("poct:menu") + f"?clinic={test.clinic.code}")
    return render(request, "poct/test_form.html", {"test": test, "form": form}, status=status)


# -- Competencies ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def competencies(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    clinic, clinics = _clinic(
        request, Permission.MANAGE_POCT, message="Only the clinic manager records competencies."
    )
    page = selectors.competency_page(actor, clinic, clinics)
    people = [row.user for row in page.rows]
    form = forms.CompetencyForm(
        request.POST or None,
        people=people,
        tests=page.tests,
        initial={"assessed_on": clock.today(), "user": request.GET.get("user", "")},
    )
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            chosen = [form.tests_by_id[t] for t in data["tests"]]
            try:
                services.record_competencies(
                    actor=actor,
                    user=form.people[data["user"]],
                    tests=chosen,
                    assessed_on=data["assessed_on"],
                    methods=data["methods"],
                    note=data["note"],
                )
            except ValidationError as exc:
                forms.add_errors(form, errors_by_field(exc))
            else:
                who = services.person(form.people[data["user"]])
                names = ", ".join(t.name for t in chosen)
                messages.success(request, f"Competency recorded: {who} for {names}.")
                return redirect(reverse("poct:competencies") + f"?clinic={clinic.code}")
    context = {"page": page, "clinic": clinic, "clinics": clinics, "form": form}
    return render(request, "poct/competencies.html", context, status=status)
