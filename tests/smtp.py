"""Real SMTP servers on 127.0.0.1 for the tests: one keeps what it gets, one hangs."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps each message, or answers DATA with `data_reply` (or with
    `refused[address]` for a message to that address)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []  # each message's bytes as they arrived
        self.peers: list[tuple[str, int]] = []  # the connection each message came over
        self.data_reply: str | None = None
        self.refused: dict[str, str] = {}
        self.on_message: Callable[[], object] | None = None  # called before the 250 reply
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        for address in envelope.rcpt_tos:
            if address in self.refused:
                return self.refused[address]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.received.append((list(envelope.rcpt_tos), message))
            self.raw.append(envelope.original_content or envelope.content)
            self.peers.append(session.peer)
            self.arrived.notify_all()
        if self.on_message:
            self.on_message()
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _, message in self.received]

    def wait_for(self, count: int, seconds: float = 10) -> list[EmailMessage]:
        """Return the messages once `count` have arrived, or what has after `seconds`."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=seconds)
        return self.messages


class SMTPServer:
    """aiosmtpd on a free port of 127.0.0.1, started and stopped by the tests."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        # A fixed greeting name: by default aiosmtpd asks socket.getfqdn() at each connection,
        # a DNS lookup on a machine whose hosts file lacks its own name.
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, server_hostname="mail.test"
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class HangingServer:
    """Accepts connections and never says a word, like a mail server that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self.closing.set()
        self.thread.join()
        self.listener.close()
        for connection in self.connections:
            connection.close()


def body(message: EmailMessage, subtype: str) -> str:
    return message.get_body(preferencelist=(subtype,)).get_content()
