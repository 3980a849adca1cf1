from django.urls import path

from medassist.flow import views

app_name = "flow"
urlpatterns = [
    path("board/", views.board, name="board"),
    path("rooms/", views.rooms, name="rooms"),
    path("rooms/<uuid:room_id>/status/", views.room_status, name="room-status"),
    path("cycle-times/", views.cycle_times, name="cycle-times"),
    path("targets/", views.targets, name="targets"),
    path("visits/<uuid:visit_id>/check-in/", views.check_in, name="check-in"),
    path("visits/<uuid:visit_id>/room/", views.room, name="room"),
    path("visits/<uuid:visit_id>/take/", views.take, name="take"),
    path("visits/<uuid:visit_id>/to-checkout/", views.to_checkout, name="to-checkout"),
    path("visits/<uuid:visit_id>/checkout/", views.checkout, name="checkout"),
    path(
        "visits/<uuid:visit_id>/after-visit-summary.pdf",
        views.after_visit_summary,
        name="after-visit-summary",
    ),
]
