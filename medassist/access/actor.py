"""Who is acting: a user with their clinics and roles, loaded once per request."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from medassist.access.permissions import Permission
from medassist.access.roles import MFA_REQUIRED_ROLES, permissions_for


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | AnonymousUser
    roles_by_clinic: dict[int, frozenset[str]] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str = ""
    channel: str = "web"

    @classmethod
    def for_user(
        cls,
        user,
        *,
        ip: str | None = None,
        user_agent: str = "",  # type: ignore[no-untyped-def]
        channel: str = "web",
    ) -> "Actor":
        from medassist.clinics.models import Membership

        roles: dict[int, set[str]] = {}
        if user.is_authenticated and user.is_active:
            for clinic_id, role in Membership.objects.filter(user=user, active=True).values_list(
                "clinic_id", "role"
            ):
                roles.setdefault(clinic_id, set()).add(role)
        return cls(
            user=user,
            roles_by_clinic={c: frozenset(r) for c, r in roles.items()},
            ip=ip,
            user_agent=user_agent[:300],
            channel=channel,
        )

    @classmethod
    def system(cls, channel: str) -> "Actor":
        """No signed-in user: the server itself acting on a channel (an interface such as "hl7",
        or "cli" for a command run on the server). Its audit entries name the channel, and the
        caller passes the system's name as the audit username."""
        return cls(user=AnonymousUser(), channel=channel)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user.is_authenticated else None

    @property
    def signed_in_user_id(self) -> int:
        """The acting user's id, for writes (which no anonymous actor may make)."""
        if not self.user.is_authenticated:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Sign in first.")
        return int(self.user.pk)

    @property
    def username(self) -> str:
        return self.user.get_username() if self.user.is_authenticated else ""

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r for rs in self.roles_by_clinic.values() for r in rs)

    def clinics_with(self, perm: Permission) -> list[int]:
        """The clinics at which this actor holds `perm`."""
        return [c for c, rs in self.roles_by_clinic.items() if perm in permissions_for(rs)]

    def has_anywhere(self, perm: Permission) -> bool:
        return bool(self.clinics_with(perm))

    @property
    def mfa_required(self) -> bool:
        return bool(self.roles & MFA_REQUIRED_ROLES)
