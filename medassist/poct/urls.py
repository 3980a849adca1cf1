from django.urls import path

from medassist.poct import views

app_name = "poct"

urlpatterns = [
    path("", views.home, name="home"),
    path("visits/<uuid:encounter_id>/", views.visit, name="visit"),
    path("visits/<uuid:encounter_id>/run/<uuid:test_id>/", views.run, name="run"),
    path("tests/<uuid:test_id>/qc/", views.qc, name="qc"),
    path("tests/<uuid:test_id>/qc-log/", views.qc_log, name="qc-log"),
    path("tests/<uuid:test_id>/controls/", views.receive_control, name="receive-control"),
    path("tests/<uuid:test_id>/edit/", views.edit_test, name="edit-test"),
    path(
        "qc-runs/<uuid:run_id>/corrective-action/",
        views.corrective_action,
        name="corrective-action",
    ),
    path("kits/", views.kits, name="kits"),
    path("kits/receive/", views.receive_kit, name="receive-kit"),
    path("kits/<uuid:lot_id>/retire/", views.retire_kit, name="retire-kit"),
    path("controls/<uuid:lot_id>/retire/", views.retire_control, name="retire-control"),
    path("menu/", views.menu, name="menu"),
    path("competencies/", views.competencies, name="competencies"),
]
