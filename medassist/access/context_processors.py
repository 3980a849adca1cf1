"""What the signed-in user may do, for templates that show or hide actions (menus, buttons).
The views still decide with can(): hiding a button is a courtesy, never the control."""

from typing import Any

from django.utils.functional import SimpleLazyObject

from medassist.access.mfa import confirmed_device
from medassist.access.permissions import Permission
from medassist.access.policies import can


class _May:
    """`{% if may.register_patient %}`: any Permission by its member name, in lower case."""

    def __init__(self, actor: Any) -> None:
        self._actor = actor

    def __getattr__(self, name: str) -> bool:
        try:
            perm = Permission[name.upper()]
        except KeyError:
            raise AttributeError(name) from None
        return can(self._actor, perm)


def permissions(request) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "may": SimpleLazyObject(lambda: _May(request.actor)),
        "has_second_factor": SimpleLazyObject(
            lambda: request.user.is_authenticated and confirmed_device(request.user) is not None
        ),
    }
