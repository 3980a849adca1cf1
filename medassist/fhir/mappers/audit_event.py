"""An entry of the audit trail -> FHIR R4 AuditEvent (http://hl7.org/fhir/R4/auditevent.html).
Pure: reads only the entry, its patient and its clinic (loaded by the caller with
select_related). The id is the entry's chain hash: unique, a valid FHIR id (64 hex digits), and
not the integer key, which never leaves the server."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from medassist.audit.models import Action, AuditEvent, Outcome

DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
# The workstation's own action codes, carried as a second subtype so that nothing is lost.
MEDASSIST_ACTION = "https://medassist.example/fhir/CodeSystem/audit-action"
# Usernames of the workstation's staff, as the agent's identifier.
MEDASSIST_USER = "https://medassist.example/fhir/sid/username"

_REST = {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"}
_USER_AUTHENTICATION = {"system": DCM, "code": "110114", "display": "User Authentication"}
_LOGIN = {"system": DCM, "code": "110122", "display": "Login"}
_LOGOUT = {"system": DCM, "code": "110123", "display": "Logout"}
_PATIENT_RECORD = {"system": DCM, "code": "110110", "display": "Patient Record"}
_EXPORT = {"system": DCM, "code": "110106", "display": "Export"}


def _rest(interaction: str) -> dict[str, str]:
    return {"system": RESTFUL_INTERACTION, "code": interaction, "display": interaction}


# action -> (type, standard subtype or None, AuditEvent.action C|R|U|D|E). Types and subtypes
# as in the R4 AuditEvent examples (example-rest, example-search, example-login, -logout,
# -disclosure); a search is an Execute, as in example-search.
ACTION_CODING: dict[str, tuple[dict[str, str], dict[str, str] | None, str]] = {
    Action.READ: (_REST, _rest("read"), "R"),
    Action.SEARCH: (_REST, _rest("search-type"), "E"),
    Action.CREATE: (_REST, _rest("create"), "C"),
    Action.UPDATE: (_REST, _rest("update"), "U"),
    Action.DELETE: (_REST, _rest("delete"), "D"),
    Action.PRINT: (_PATIENT_RECORD, None, "R"),
    Action.EXPORT: (_EXPORT, None, "R"),
    Action.LOGIN: (_USER_AUTHENTICATION, _LOGIN, "E"),
    Action.LOGIN_FAILED: (_USER_AUTHENTICATION, _LOGIN, "E"),
    Action.LOGOUT: (_USER_AUTHENTICATION, _LOGOUT, "E"),
    Action.TIMEOUT: (_USER_AUTHENTICATION, _LOGOUT, "E"),
    Action.EMERGENCY_ACCESS: (_PATIENT_RECORD, None, "E"),
}
_UNKNOWN_ACTION = (_PATIENT_RECORD, None, "E")

# AuditEvent.outcome (http://hl7.org/fhir/audit-event-outcome): 0 success, 4 minor failure
# (the request was refused), 8 serious failure (it was attempted and failed).
OUTCOME_CODE: dict[str, str] = {Outcome.SUCCESS: "0", Outcome.DENIED: "4", Outcome.FAILED: "8"}

_PATIENT_ENTITY_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
    "code": "1",
    "display": "Person",
}
_SYSTEM_OBJECT = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
    "code": "2",
    "display": "System Object",
}
_PATIENT_ROLE = {
    "system": "http://terminology.hl7.org/CodeSystem/object-role",
    "code": "1",
    "display": "Patient",
}
_QUERY_ROLE = {
    "system": "http://terminology.hl7.org/CodeSystem/object-role",
    "code": "24",
    "display": "Query",
}
_HUMAN_USER = {
    "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
    "code": "humanuser",
    "display": "human user",
}
_APPLICATION_SERVER = {
    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
    "code": "4",
    "display": "Application Server",
}
# v3 ActReason BTG: access granted by "breaking the glass" (ONC 170.315(d)(6)).
_BREAK_THE_GLASS = {"system": ACT_REASON, "code": "BTG", "display": "break the glass"}


def _related(event: AuditEvent, name: str) -> Any:
    # The trail's foreign keys have no database constraint (so that nothing cascades into it):
    # an entry may name a row that is gone, which reads as nothing rather than an error.
    try:
        return getattr(event, name)
    except ObjectDoesNotExist:
        return None


def _agent(event: AuditEvent) -> dict[str, Any]:
    agent: dict[str, Any] = {"type": {"coding": [_HUMAN_USER]}, "requestor": True}
    if event.roles:
        agent["role"] = [{"text": role} for role in event.roles.split(",") if role]
    if event.username:
        agent["who"] = {
            "identifier": {"system": MEDASSIST_USER, "value": event.username},
            "display": event.username,
        }
        agent["name"] = event.username
    if event.source_ip:
        agent["network"] = {"address": event.source_ip, "type": "2"}  # 2: IP address
    return agent


def _entities(event: AuditEvent) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    patient = _related(event, "patient")
    patient_id = str(patient.public_id) if patient is not None else ""
    if patient_id:
        entities.append(
            {
                "what": {"reference": f"Patient/{patient_id}"},
                "type": _PATIENT_ENTITY_TYPE,
                "role": _PATIENT_ROLE,
            }
        )
    data: dict[str, Any] = {"type": _SYSTEM_OBJECT, "name": event.entity_type}
    if event.action == Action.SEARCH:
        data["role"] = _QUERY_ROLE
    elif event.entity_id and event.entity_id != patient_id:
        data["what"] = {"identifier": {"value": event.entity_id}}
    if event.description:
        data["description"] = event.description
    entities.append(data)
    return entities


def to_fhir(event: AuditEvent) -> dict[str, Any]:
    type_, subtype, action = ACTION_CODING.get(event.action, _UNKNOWN_ACTION)
    label = dict(Action.choices).get(event.action, event.action)
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event.hash,
        "type": type_,
        "subtype": [
            *([subtype] if subtype else []),
            {"system": MEDASSIST_ACTION, "code": event.action, "display": label},
        ],
        "action": action,
        "recorded": event.occurred_at.isoformat(),
        "outcome": OUTCOME_CODE.get(event.outcome, "8"),
        "agent": [_agent(event)],
        "source": {
            "observer": {"display": f"medassist {event.channel}".strip()},
            "type": [_APPLICATION_SERVER],
        },
        "entity": _entities(event),
    }
    if event.outcome != Outcome.SUCCESS and event.description:
        resource["outcomeDesc"] = event.description
    clinic = _related(event, "clinic")
    if clinic is not None:
        resource["source"]["site"] = clinic.name
    purpose: dict[str, Any] = {}
    if event.action == Action.EMERGENCY_ACCESS:
        purpose["coding"] = [_BREAK_THE_GLASS]
    if event.reason:
        purpose["text"] = event.reason
    if purpose:
        resource["purposeOfEvent"] = [purpose]
    return resource
