from django.urls import path

app_name = "poct"

urlpatterns: list = []
