"""MLLP framing, send() against the registry double in each of its modes, and the server.

Everything listens on and connects to the loopback interface only; timeouts are short so the
failure modes cost fractions of a second.
"""

import contextlib
import socket
import threading
import time

import pytest

from medassist.hl7.ack import parse_ack
from medassist.hl7.mllp import (
    DropConnection,
    FrameReader,
    MllpConnectionError,
    MllpError,
    MllpServer,
    MllpTimeout,
    frame,
    send,
)
from medassist.hl7.registry_double import RegistryDouble
from medassist.hl7.tests.test_vxu import CHILD, DTAP, SENDER, SENT_AT
from medassist.hl7.vxu import build_vxu

TIMEOUT = 0.3
# Generous: a loaded CI machine is slow, but nowhere near a real network timeout.
QUICKLY = 3.0


def vxu(control_id: str = "MSG-1") -> str:
    return build_vxu(SENDER, CHILD, [DTAP], control_id, SENT_AT)


def test_frame() -> None:
    assert frame("MSH|x\rPID|1\r") == b"\x0bMSH|x\rPID|1\r\x1c\r"
    assert frame("MSH|x\nPID|1\r\n") == b"\x0bMSH|x\rPID|1\r\x1c\r"
    assert frame("MSH|Zoë") == b"\x0bMSH|Zo\xc3\xab\x1c\r"


def test_frame_reader_joins_chunks_and_skips_noise() -> None:
    reader = FrameReader()
    assert reader.feed(b"noise\x0bMSH|one") == []
    assert reader.feed(b"\x1c") == []  # the end block is two bytes; wait for the second
    assert reader.feed(b"\r\x0bMSH|two\x1c\r\x0bMSH|thr") == ["MSH|one", "MSH|two"]
    assert reader.feed(b"ee\x1c\r") == ["MSH|three"]


def test_frame_reader_refuses_an_endless_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("medassist.hl7.mllp.MAX_MESSAGE_BYTES", 10)
    with pytest.raises(MllpError, match="exceeds"):
        FrameReader().feed(b"\x0b" + b"x" * 20)


# --- the registry double, mode by mode -------------------------------------------------------


def test_aa() -> None:
    with RegistryDouble("AA") as registry:
        ack = parse_ack(send(registry.host, registry.port, vxu(), timeout=TIMEOUT))
        assert (ack.code, ack.control_id, ack.errors) == ("AA", "MSG-1", ())
        assert registry.received == [vxu()]
        assert registry.duplicates == 0


def test_ae_names_the_field_like_ig_example_05() -> None:
    with RegistryDouble("AE") as registry:
        ack = parse_ack(send(registry.host, registry.port, vxu(), timeout=TIMEOUT))
        assert (ack.code, ack.control_id) == ("AE", "MSG-1")
        (error,) = ack.errors
        assert (error.severity, error.code, error.location) == ("E", "103", "RXA-5")
        assert error.text == "Vaccine code not recognized - field rejected"
        assert registry.received == [vxu()]  # accepted with errors: stored


def test_ae_with_another_location() -> None:
    with RegistryDouble("AE", error_location="PID-7", error_text="Birth date after today") as r:
        (error,) = parse_ack(send(r.host, r.port, vxu(), timeout=TIMEOUT)).errors
        assert (error.location, error.text) == ("PID-7", "Birth date after today")


def test_ar_rejects_without_storing() -> None:
    with RegistryDouble("AR") as registry:
        ack = parse_ack(send(registry.host, registry.port, vxu(), timeout=TIMEOUT))
        assert (ack.code, ack.rejected) == ("AR", True)
        assert registry.received == []


def test_timeout_is_honoured_quickly() -> None:
    with RegistryDouble("timeout") as registry:
        started = time.monotonic()
        with pytest.raises(MllpTimeout, match=f"no reply from 127.0.0.1:{registry.port}"):
            send(registry.host, registry.port, vxu(), timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        assert TIMEOUT <= elapsed < QUICKLY
        assert registry.received == [vxu()]  # it read the message; only the answer is lost


def test_close_drops_the_connection() -> None:
    with RegistryDouble("close") as registry:
        with pytest.raises(MllpConnectionError, match="closed the connection without a reply"):
            send(registry.host, registry.port, vxu(), timeout=TIMEOUT)
        assert registry.received == []


def test_retry_after_a_timeout_is_stored_once() -> None:
    with RegistryDouble(script=["timeout", "AA"]) as registry:
        message = vxu("MSG-RETRY")
        with pytest.raises(MllpTimeout):
            send(registry.host, registry.port, message, timeout=TIMEOUT)
        ack = parse_ack(send(registry.host, registry.port, message, timeout=TIMEOUT))
        assert (ack.code, ack.control_id) == ("AA", "MSG-RETRY")
        assert registry.received == [message]
        assert registry.duplicates == 1
        assert registry.modes_used == ["timeout", "AA"]


def test_duplicate_control_id_is_acknowledged_again_and_counted_once() -> None:
    with RegistryDouble("AA") as registry:
        first, second = vxu("MSG-A"), vxu("MSG-B")
        codes = [
            parse_ack(send(registry.host, registry.port, m, timeout=TIMEOUT)).code
            for m in (first, first, second, first)
        ]
        assert codes == ["AA", "AA", "AA", "AA"]
        assert registry.received == [first, second]
        assert registry.duplicates == 2


def test_a_duplicate_of_a_rejected_message_is_new() -> None:
    with RegistryDouble(script=["AR"]) as registry:
        message = vxu("MSG-AR")
        codes = [
            parse_ack(send(registry.host, registry.port, message, timeout=TIMEOUT)).code
            for _ in range(2)
        ]
        assert codes == ["AR", "AA"]
        assert (registry.received, registry.duplicates) == ([message], 0)


def test_script_then_mode() -> None:
    with RegistryDouble("AE", script=["AA", "close"]) as registry:
        assert parse_ack(send(registry.host, registry.port, vxu("1"), timeout=TIMEOUT)).code == "AA"
        with pytest.raises(MllpConnectionError):
            send(registry.host, registry.port, vxu("2"), timeout=TIMEOUT)
        assert parse_ack(send(registry.host, registry.port, vxu("3"), timeout=TIMEOUT)).code == "AE"
        registry.mode = "AR"
        assert parse_ack(send(registry.host, registry.port, vxu("4"), timeout=TIMEOUT)).code == "AR"


def test_garbage_is_rejected() -> None:
    with RegistryDouble("AA") as registry:
        ack = parse_ack(send(registry.host, registry.port, "hello", timeout=TIMEOUT))
        assert ack.code == "AR"
        assert "not an HL7 v2 message" in ack.errors[0].text
        assert registry.received == []


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode 'ok'"):
        RegistryDouble(script=["AA", "ok"])  # type: ignore[list-item]


def test_the_double_listens_on_loopback_127_0_0_1_only() -> None:
    with RegistryDouble("AA") as registry:
        assert registry.address == ("127.0.0.1", registry.port)
        assert registry.port > 0  # an ephemeral port
        # The whole of 127/8 is loopback on Linux: a server bound to every interface would
        # answer on 127.0.0.2 too. Ours must not (elsewhere the address is simply unreachable).
        with pytest.raises(OSError), socket.create_connection(("127.0.0.2", registry.port), 1):
            pass


# --- send() and the server on their own ------------------------------------------------------


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused() -> None:
    port = unused_port()
    started = time.monotonic()
    with pytest.raises(MllpConnectionError, match=f"could not connect to 127.0.0.1:{port}"):
        send("127.0.0.1", port, vxu(), timeout=TIMEOUT)
    assert time.monotonic() - started < QUICKLY


def test_errors_are_mllp_errors() -> None:
    assert issubclass(MllpTimeout, MllpError)
    assert issubclass(MllpConnectionError, MllpError)


def test_server_answers_several_messages_on_one_connection() -> None:
    seen: list[str] = []

    def handler(message: str) -> str:
        seen.append(message)
        return f"MSH|^~\\&|echo {len(seen)}"

    with MllpServer(handler) as server, socket.create_connection(server.address, 2) as client:
        client.sendall(frame("MSH|one") + frame("MSH|two"))
        reader, replies = FrameReader(), list[str]()
        while len(replies) < 2:
            replies += reader.feed(client.recv(1024))
        assert replies == ["MSH|^~\\&|echo 1", "MSH|^~\\&|echo 2"]
        assert seen == ["MSH|one", "MSH|two"]


def test_a_failing_handler_closes_the_connection(caplog: pytest.LogCaptureFixture) -> None:
    def handler(message: str) -> str:
        raise RuntimeError("boom")

    with MllpServer(handler) as server, pytest.raises(MllpConnectionError):
        send(server.host, server.port, "MSH|x", timeout=TIMEOUT)
    assert "MLLP handler failed" in caplog.text


def test_drop_connection() -> None:
    def handler(message: str) -> str:
        raise DropConnection

    with MllpServer(handler) as server, pytest.raises(MllpConnectionError):
        send(server.host, server.port, "MSH|x", timeout=TIMEOUT)


def test_stop_closes_a_waiting_connection_quickly() -> None:
    registry = RegistryDouble("timeout")
    registry.start()
    outcome: list[BaseException] = []

    def client() -> None:
        try:
            send(registry.host, registry.port, vxu(), timeout=10)
        except MllpError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    deadline = time.monotonic() + QUICKLY
    while not registry.received and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    registry.stop()
    thread.join(QUICKLY)
    assert time.monotonic() - started < QUICKLY
    assert not thread.is_alive()
    assert isinstance(outcome[0], MllpConnectionError)


def test_server_restarts_and_refuses_misuse() -> None:
    server = MllpServer(lambda message: None)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    server.start()
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    server.stop()
    server.start()
    assert server.port > 0
    server.stop()


def test_send_timeout_counts_from_the_start() -> None:
    """A reply that trickles in byte by byte and never ends does not stretch the deadline."""
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def trickle() -> None:
            connection, _ = listener.accept()
            with connection, contextlib.suppress(OSError):  # the client hangs up at its deadline
                connection.sendall(b"\x0bMSH")
                while not stop.wait(0.05):
                    connection.sendall(b"|")

        thread = threading.Thread(target=trickle)
        thread.start()
        started = time.monotonic()
        try:
            with pytest.raises(MllpTimeout):
                send("127.0.0.1", listener.getsockname()[1], "MSH|x", timeout=TIMEOUT)
            assert time.monotonic() - started < QUICKLY
        finally:
            stop.set()
            thread.join(QUICKLY)
