from django.urls import path

from medassist.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.report, name="report"),
    path("export.csv", views.export, name="export"),
]
