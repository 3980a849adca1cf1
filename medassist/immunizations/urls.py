from django.urls import path

from medassist.immunizations import views

app_name = "immunizations"
urlpatterns = [
    path("patients/<uuid:patient_id>/", views.patient, name="patient"),
    path("patients/<uuid:patient_id>/summary/", views.chart_summary, name="chart-summary"),
    path("patients/<uuid:patient_id>/conditions/", views.add_indication, name="add-condition"),
    path("conditions/<uuid:indication_id>/end/", views.end_indication, name="end-condition"),
    path("patients/<uuid:patient_id>/give/", views.give, name="give"),
    path("patients/<uuid:patient_id>/give/scan/", views.scan, name="scan"),
    path("patients/<uuid:patient_id>/history/", views.add_history, name="add-history"),
    path("patients/<uuid:patient_id>/refusal/", views.refusal, name="refusal"),
    path("patients/<uuid:patient_id>/order/", views.order, name="order"),
    path("doses/<uuid:dose_id>/retract/", views.retract, name="retract"),
    path("doses/<uuid:dose_id>/correct/", views.correct, name="correct"),
    path("doses/<uuid:dose_id>/release/", views.release, name="release"),
    path("doses/<uuid:dose_id>/reaction/", views.reaction, name="reaction"),
    path("reactions/<uuid:reaction_id>/vaers/", views.vaers, name="vaers"),
    path("stock/", views.stock, name="stock"),
    path("stock/receive/", views.receive, name="receive"),
    path("stock/lots/<uuid:lot_id>/count/", views.adjust, name="adjust"),
    path("stock/lots/<uuid:lot_id>/retire/", views.retire, name="retire"),
    path("standing-orders/", views.standing_orders, name="standing-orders"),
    path(
        "standing-orders/<uuid:order_id>/end/",
        views.end_standing_order,
        name="end-standing-order",
    ),
    path("registry/", views.registry, name="registry"),
    path("settings/", views.clinic_settings, name="settings"),
    path("registry/<uuid:submission_id>/reviewed/", views.mark_reviewed, name="mark-reviewed"),
]
