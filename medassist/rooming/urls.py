from django.urls import path

from medassist.rooming import views

app_name = "rooming"
urlpatterns = [
    path("<uuid:visit_id>/", views.worklist, name="worklist"),
    path("<uuid:visit_id>/summary/", views.summary, name="summary"),
    path("<uuid:visit_id>/finish/", views.finish, name="finish"),
    path("<uuid:visit_id>/save/<slug:action>/", views.save_step, name="save"),
]
