"""Pages for the provider's results inbox, a report, release, critical-result alerts, trends and
the HL7 error queue. (Placeholder: replaced by the real views.)"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


@login_required
def inbox(request):  # type: ignore[no-untyped-def]
    return HttpResponse("Results inbox")


@login_required
def banner(request):  # type: ignore[no-untyped-def]
    return HttpResponse(status=204)


urlpatterns = [path("inbox/", inbox, name="inbox"), path("alerts/banner/", banner, name="banner")]
