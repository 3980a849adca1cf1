"""Resending an order message from the lab interface page: POST only; the clinic manager's
resend queues it and says so on the interface page; a refusal is said there too; an MA of the
clinic gets 403, an outsider (carol, South) 404 — and nothing changes for either."""

import uuid

import pytest
from django.contrib.messages import get_messages
from django.http import Http404
from django.test import Client
from django.urls import reverse

from medassist.access.actor import Actor
from medassist.audit.models import AuditEvent
from medassist.events.models import OutboxMessage
from medassist.labs.models import OrderMessage
from medassist.labs.selectors import orders as selectors
from medassist.labs.tests import factories as f

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def resend_url(message_id: object) -> str:
    return reverse("labs:order-message-resend", kwargs={"message_id": message_id})


def state(message: OrderMessage) -> tuple[object, ...]:
    message.refresh_from_db()
    queued = OutboxMessage.objects.filter(kind="lab.order", status="queued").count()
    return message.status, message.attempts, message.last_error, queued


def flashes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_route() -> None:
    some = uuid.uuid4()
    assert resend_url(some) == f"/labs/interface/orders/{some}/resend/"


def test_the_manager_resends_a_failed_message(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    response = client_for(cast.dana).post(resend_url(message.public_id))
    assert response.status_code == 302 and response["Location"] == reverse("labs:interface")
    assert flashes(response) == [
        f"Message {message.control_id} (NW) is queued to be sent to the lab again."
    ]
    # Queued with a fresh count of attempts (sent after the request's commit).
    assert state(message) == (OrderMessage.Status.QUEUED, 0, "", 1)
    assert AuditEvent.objects.filter(
        action="update", entity_id=str(message.public_id), username="dana"
    ).exists()


def test_a_refusal_is_said_on_the_interface_page(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    OrderMessage.objects.filter(pk=message.pk).update(status=OrderMessage.Status.ACCEPTED)
    before = state(message)
    response = client_for(cast.dana).post(resend_url(message.public_id))
    assert response.status_code == 302 and response["Location"] == reverse("labs:interface")
    [said] = flashes(response)
    assert "is accepted (aa): only a message that failed" in said
    assert state(message) == before


def test_get_is_not_a_resend(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    before = state(message)
    assert client_for(cast.dana).get(resend_url(message.public_id)).status_code == 405
    assert state(message) == before


def test_an_ma_of_the_clinic_may_not(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    before = state(message)
    assert client_for(cast.alice).post(resend_url(message.public_id)).status_code == 403
    assert state(message) == before


def test_an_outsider_gets_404_and_nothing_changes(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    before = state(message)
    carol = client_for(cast.carol)
    got = carol.post(resend_url(message.public_id)).status_code
    assert got == 404
    assert carol.post(resend_url(uuid.uuid4())).status_code == got  # same as a missing one
    assert state(message) == before
    denied = AuditEvent.objects.filter(
        entity_id=str(message.public_id), outcome="denied", username="carol"
    )
    assert denied.exists()


def test_signed_out_goes_to_log_in(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    before = state(message)
    response = Client().post(resend_url(message.public_id))
    assert response.status_code == 302 and "login" in response["Location"]
    assert state(message) == before


def test_the_lookup_is_the_selectors_and_scoped_to_the_actors_clinics(cast):  # type: ignore[no-untyped-def]
    message = OrderMessage.objects.get(public_id=f.north_failed_order_message(cast))
    for insider in (cast.dana, cast.alice):  # the service decides who may resend (403)
        found = selectors.order_message_for_resend(Actor.for_user(insider), message.public_id)
        assert found == message
    with pytest.raises(Http404):
        selectors.order_message_for_resend(Actor.for_user(cast.carol), message.public_id)
    with pytest.raises(Http404):
        selectors.order_message_for_resend(Actor.for_user(cast.dana), uuid.uuid4())
    assert AuditEvent.objects.filter(
        entity_id=str(message.public_id), outcome="denied", username="carol", action="update"
    ).exists()
