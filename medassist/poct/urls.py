from django.urls import path

from medassist.poct import views

app_name = "poct"

urlpatterns = [path("", views.home, name="home")]
