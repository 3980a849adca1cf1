"""OperationOutcome: how the API tells every error (FHIR R4 OperationOutcome; issue-type codes
from http://hl7.org/fhir/issue-type)."""

from collections.abc import Mapping, Sequence
from typing import Any

# The issue type that fits each HTTP status the API answers with.
ISSUE_TYPE_FOR_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    500: "exception",
}


def operation_outcome(
    diagnostics: str,
    *,
    code: str = "processing",
    severity: str = "error",
    expression: Sequence[str] = (),
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        # `expression` names the element or search parameter at fault, so a client can point
        # its user at the exact field (FHIR R4 OperationOutcome.issue.expression).
        issue["expression"] = list(expression)
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FhirError(Exception):
    """An error to answer with an OperationOutcome and `status`. Raised anywhere below a view;
    the API's exception handler turns it into the response."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str | None = None,
        expression: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_TYPE_FOR_STATUS.get(status, "processing")
        self.expression = tuple(expression)
        self.headers = dict(headers or {})

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.diagnostics, code=self.code, expression=self.expression)


def bad_parameter(name: str, problem: str) -> FhirError:
    """A search parameter the server cannot use: 400, naming the parameter (FHIR R4 Search,
    'Handling Errors': a server that refuses a parameter says which)."""
    return FhirError(400, f"{name}: {problem}", expression=[name])
