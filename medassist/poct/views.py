"""Point-of-care testing pages. (Placeholder: replaced by the real views.)"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def home(request):  # type: ignore[no-untyped-def]
    return HttpResponse("Point-of-care testing")
