from medassist.access.actor import Actor
from medassist.access.permissions import Permission
from medassist.clinics.models import Clinic


def clinics_where(actor: Actor, perm: Permission) -> list[Clinic]:
    return list(Clinic.objects.filter(pk__in=actor.clinics_with(perm)).order_by("name"))


def my_clinics(actor: Actor) -> list[Clinic]:
    return list(Clinic.objects.filter(pk__in=actor.roles_by_clinic).order_by("name"))
