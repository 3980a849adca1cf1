from django.urls import path  # noqa: F401  (each part's patterns are in its views module)

from medassist.labs.views import orders, results

app_name = "labs"

# views/orders.py and views/results.py each define their own `urlpatterns` list.
urlpatterns: list = [*getattr(orders, "urlpatterns", []), *getattr(results, "urlpatterns", [])]
