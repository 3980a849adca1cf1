from django.urls import path

from medassist.vitals import views

app_name = "vitals"
urlpatterns = [
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/banner/", views.banner, name="banner"),
    path("alerts/<uuid:alert_id>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("patients/<uuid:patient_id>/", views.trends, name="trends"),
    path("signs/<uuid:sign_id>/retract/", views.retract, name="retract"),
    path("policy/", views.policy, name="policy"),
]
