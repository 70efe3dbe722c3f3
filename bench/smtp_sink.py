"""The benchmarks' mail server: it accepts every mail and appends its Message-ID to a log.

`python bench/smtp_sink.py PORT LOG` (`COMMAND`) listens on 127.0.0.1:PORT, a thread a
connection, and prints "ready".

It stands in for the company's mail server, which runs on another machine, so on the
benchmark's machine it should take as little of the CPU as it can. aiosmtpd, the tests'
server, reads a mail a line at a time in Python: 1.4 ms of CPU for a mail of 7.5 KB, more than
four times what `smtplib` spends sending it. This one finds the end of a mail with one search
of the bytes received: 0.22 ms (docs/benchmarks.md, intake20). It speaks what `smtplib` asks of a
server (EHLO, MAIL, RCPT, DATA, NOOP, RSET, QUIT) and checks nothing.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from pathlib import Path
from typing import BinaryIO

COMMAND = [sys.executable, str(Path(__file__).resolve())]  # then the port and the log's path
MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
END_OF_DATA = b"\r\n.\r\n"
REPLIES = {
    b"HELO": b"250 mail.test\r\n",
    b"EHLO": b"250-mail.test\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n",
    b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n",
    b"NOOP": b"250 OK\r\n",
    b"RSET": b"250 OK\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 Bye\r\n",
}


def serve(connection: socket.socket, log: BinaryIO, lock: threading.Lock) -> None:
    """Answer one client until it quits or hangs up."""
    with connection:
        connection.sendall(b"220 mail.test ESMTP\r\n")
        received = b""
        in_data = False
        while True:
            end = received.find(END_OF_DATA if in_data else b"\r\n")
            if end < 0:
                more = connection.recv(65536)
                if not more:
                    return
                received += more
            elif in_data:
                mail, received = received[:end], received[end + len(END_OF_DATA) :]
                in_data = False
                with lock:
                    log.writelines(found.group(1) + b"\n" for found in MESSAGE_ID.finditer(mail))
                    log.flush()
                connection.sendall(b"250 OK\r\n")
            else:
                verb = received[: min(end, 4)].upper()
                received = received[end + 2 :]
                connection.sendall(REPLIES.get(verb, b"500 Unknown command\r\n"))
                if verb == b"QUIT":
                    return
                if verb == b"DATA":  # its CRLF ends the line before the data: "\r\n.\r\n" ends
                    in_data = True  # an empty mail too
                    received = b"\r\n" + received


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    lock = threading.Lock()
    with open(log_path, "ab") as log, socket.create_server(("127.0.0.1", port)) as server:
        print("ready", flush=True)
        while True:
            connection, _address = server.accept()
            threading.Thread(target=serve, args=(connection, log, lock), daemon=True).start()


if __name__ == "__main__":
    main()
