from django.urls import path

from medassist.patients import views

app_name = "patients"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("new/", views.register, name="register"),
    path("emergency-access/", views.emergency_access, name="emergency-access"),
    path("export.csv", views.export, name="export"),
    path("<uuid:patient_id>/", views.chart, name="chart"),
    path("<uuid:patient_id>/edit/", views.edit, name="edit"),
    path("<uuid:patient_id>/photo/", views.photo, name="photo"),
    path("<uuid:patient_id>/print/", views.print_face_sheet, name="print"),
]
