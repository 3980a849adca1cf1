import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Load every view now rather than at the first request, then move everything made so far
# (modules, URL patterns, settings: all of it lives as long as the process) out of the garbage
# collector's sight. Its full collections then walk only what requests make, which keeps them
# short: on a 900-visit flow board they were the slowest twentieth of responses (bench/).
# Python's gc.freeze() is made for this.
get_resolver().url_patterns  # noqa: B018 (imports every app's views)
gc.freeze()
