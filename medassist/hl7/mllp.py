"""MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over TCP.

Each message travels in a block: a start byte 0x0B, the message, then 0x1C 0x0D (HL7 v2.5.1
Appendix C "Lower Layer Protocols", C.4 MLLP; HL7 "MLLP Transport Specification, Release 1").
``send`` delivers one message and waits for one framed reply; ``MllpServer`` answers framed
messages with a handler and is what test doubles stand on.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from medassist.hl7.er7 import decode

__all__ = [
    "DropConnection",
    "FrameReader",
    "MllpConnectionError",
    "MllpError",
    "MllpServer",
    "MllpTimeout",
    "frame",
    "send",
]

log = logging.getLogger(__name__)

START_BLOCK: Final = b"\x0b"
END_BLOCK: Final = b"\x1c\r"
#: A reply or a message larger than this is refused rather than buffered without end.
MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
_CHUNK: Final = 65536
#: How often the server's threads look up from a blocking call to see whether to stop.
_POLL_SECONDS: Final = 0.05

Handler = Callable[[str], str | None]


class MllpError(Exception):
    """An MLLP exchange failed."""


class MllpTimeout(MllpError):
    """No (complete) reply within the time allowed. The peer may still have taken the
    message: resend it with the same MSH-10 so the registry can tell it is a retry."""


class MllpConnectionError(MllpError):
    """The connection could not be made, or broke, or was closed before a reply."""


class DropConnection(Exception):
    """Raised by an ``MllpServer`` handler: close the connection without replying."""


def frame(message: str) -> bytes:
    """One MLLP block; segments end with ``\\r`` as HL7 wants, whatever line ends came in."""
    normalized = message.replace("\r\n", "\r").replace("\n", "\r")
    return START_BLOCK + normalized.encode("utf-8") + END_BLOCK


class FrameReader:
    """Collects bytes from a stream and hands out the messages of complete blocks.

    Bytes outside a block (before 0x0B) are ignored, as the MLLP receiver rules allow.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buffer.extend(data)
        messages: list[str] = []
        while True:
            start = self._buffer.find(START_BLOCK)
            if start < 0:
                self._buffer.clear()
                break
            end = self._buffer.find(END_BLOCK, start + 1)
            if end < 0:
                del self._buffer[:start]
                if len(self._buffer) > MAX_MESSAGE_BYTES:
                    raise MllpError(f"an MLLP block exceeds {MAX_MESSAGE_BYTES} bytes")
                break
            payload = bytes(self._buffer[start + 1 : end])
            del self._buffer[: end + len(END_BLOCK)]
            messages.append(decode(payload))
        return messages


def send(host: str, port: int, message: str, timeout: float = 30.0) -> str:
    """Send one message and return the one reply, within ``timeout`` seconds in all.

    Raises ``MllpTimeout`` if connecting or the reply takes longer, ``MllpConnectionError``
    if the connection is refused, breaks, or is closed before a reply arrives.
    """
    if timeout <= 0:
        raise ValueError("the timeout must be positive")
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError as exc:
        raise MllpTimeout(f"could not connect to {where} within {timeout:g} s") from exc
    except OSError as exc:
        raise MllpConnectionError(f"could not connect to {where}: {exc}") from exc
    reader = FrameReader()
    with connection:
        try:
            connection.sendall(frame(message))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                connection.settimeout(remaining)
                chunk = connection.recv(_CHUNK)
                if not chunk:
                    raise MllpConnectionError(f"{where} closed the connection without a reply")
                replies = reader.feed(chunk)
                if replies:
                    return replies[0]
        except TimeoutError as exc:
            raise MllpTimeout(f"no reply from {where} within {timeout:g} s") from exc
        except OSError as exc:
            raise MllpConnectionError(f"the connection to {where} failed: {exc}") from exc


class MllpServer:
    """A small threaded MLLP listener: one thread per connection, many messages per
    connection, each answered with what ``handler`` returns.

    The handler returns the reply, or None to send nothing (the connection stays open, so
    the sender waits until its own timeout), or raises ``DropConnection`` to close it. Any
    other exception from the handler closes the connection too, after logging it.

    It listens on 127.0.0.1 unless told otherwise; ``port=0`` takes a free port, which
    ``port`` tells once started.
    """

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._requested = (host, port)
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("the server is not started")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def host(self) -> str:
        return self.address[0]

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> None:
        if self._listener is not None:
            raise RuntimeError("the server is already started")
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(self._requested)
        listener.listen()
        listener.settimeout(_POLL_SECONDS)
        self._listener = listener
        self._spawn(self._accept_loop, "mllp-accept")

    def stop(self) -> None:
        """Stop listening, close every open connection and wait for the threads."""
        self._stopping.set()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            self._threads.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def connection_closed(self) -> None:
        """Called on a connection's own thread as it ends: a subclass frees what the thread
        held (its database connection, say)."""

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        listener = self._listener
        if listener is None:
            return
        while not self._stopping.is_set():
            try:
                connection, _peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            self._spawn(self._serve, "mllp-connection", connection)

    def _serve(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)
        reader = FrameReader()
        try:
            connection.settimeout(_POLL_SECONDS)
            while not self._stopping.is_set():
                try:
                    chunk = connection.recv(_CHUNK)
                except TimeoutError:
                    continue
                if not chunk:
                    return  # the peer closed
                for message in reader.feed(chunk):
                    reply = self._handler(message)
                    if reply is not None:
                        connection.sendall(frame(reply))
        except DropConnection:
            return
        except (OSError, MllpError):
            return  # the peer went away, or sent a block too large
        except Exception:
            log.exception("MLLP handler failed; closing the connection")
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()
            try:
                self.connection_closed()
            except Exception:
                log.exception("MLLP connection clean-up failed")
