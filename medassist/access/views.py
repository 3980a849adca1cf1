from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST

from medassist.access import mfa
from medassist.access.forms import OneTimeCodeForm
from medassist.access.services import (
    begin_mfa_enrollment,
    confirm_mfa_enrollment,
    end_session,
    record_failed_login,
    start_session,
    verify_second_factor,
)


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        if request.GET.get("timeout"):
            messages.info(request, "You were signed out after a period of inactivity.")
        return super().get(request, *args, **kwargs)

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        start_session(self.request, form.get_user())
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        record_failed_login(self.request, self.request.POST.get("username", ""))
        return super().form_invalid(form)


@require_POST
def logout_view(request):  # type: ignore[no-untyped-def]
    end_session(request)
    return HttpResponseRedirect(resolve_url("login"))


def _next_url(request) -> str:  # type: ignore[no-untyped-def]
    """Where to go once the second factor is in: the page asked for, if it is one of ours."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return str(url)
    return str(resolve_url("home"))


def _with_next(url_name: str, request) -> str:  # type: ignore[no-untyped-def]
    return str(resolve_url(url_name)) + "?" + urlencode({"next": _next_url(request)})


@login_required
@require_http_methods(["GET", "POST"])
def mfa_setup(request):  # type: ignore[no-untyped-def]
    if mfa.confirmed_device(request.user) is not None:
        if request.user.is_verified():
            messages.info(request, "Your authenticator app is already set up.")
            return redirect(_next_url(request))
        return redirect(_with_next("mfa-verify", request))
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            confirm_mfa_enrollment(request, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc.message_dict.get("code", exc.messages))
        else:
            messages.success(
                request,
                "Authenticator app set up. You will be asked for a code each time you sign in.",
            )
            return redirect(_next_url(request))
    device = begin_mfa_enrollment(request)
    context = {
        "form": form,
        "qr": mfa.qr_data_uri(device),
        "secret": mfa.secret_for_typing(device),
        "next": _next_url(request),
        "required": request.actor.mfa_required,
    }
    return render(request, "access/mfa_setup.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def mfa_verify(request):  # type: ignore[no-untyped-def]
    if request.user.is_verified():
        return redirect(_next_url(request))
    if mfa.confirmed_device(request.user) is None:
        return redirect(_with_next("mfa-setup", request))
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verify_second_factor(request, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc.message_dict.get("code", exc.messages))
        else:
            return redirect(_next_url(request))
    return render(request, "access/mfa_verify.html", {"form": form, "next": _next_url(request)})
