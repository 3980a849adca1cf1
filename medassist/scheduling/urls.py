from django.urls import path

from medassist.scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("", views.day, name="day"),
    path("types.css", views.type_colors, name="type-colors"),
    path("book/", views.book, name="book"),
    path("book/patients/", views.patient_choices, name="patient-choices"),
    path("book/suggestions/", views.suggestions, name="suggestions"),
    path("appointments/<uuid:appointment_id>/", views.appointment, name="appointment"),
    path("appointments/<uuid:appointment_id>/cancel/", views.cancel, name="cancel"),
    path("appointments/<uuid:appointment_id>/reschedule/", views.reschedule, name="reschedule"),
    path("appointments/<uuid:appointment_id>/no-show/", views.no_show, name="no-show"),
    path(
        "appointments/<uuid:appointment_id>/reminders/",
        views.reminder_preference,
        name="reminder-preference",
    ),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/<uuid:entry_id>/book/", views.waitlist_book, name="waitlist-book"),
    path("waitlist/<uuid:entry_id>/remove/", views.waitlist_remove, name="waitlist-remove"),
    path("previsit/", views.previsit, name="previsit"),
    path("blocks/", views.blocks, name="blocks"),
    path("blocks/<uuid:block_id>/remove/", views.unblock, name="unblock"),
]
