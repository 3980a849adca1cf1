"""Pages for ordering, collection, labels, custody, the pending-specimens board and the catalog.
(Placeholder: the worklist view is replaced by the real one.)"""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


@login_required
def worklist(request):  # type: ignore[no-untyped-def]
    return HttpResponse("Collection worklist")


urlpatterns = [path("collect/", worklist, name="worklist")]
