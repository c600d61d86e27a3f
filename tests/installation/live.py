"""Ask a running dashboard server what it actually does, over the wire as a browser would.

- `reachable(host, port)`: does it accept TCP connections on that address?
- `open_session(url)`: a websocket session as the page opens one; gives the settings the
  server sends every new session (usage statistics on or off), the page's text, and the
  session id and XSRF cookie an upload needs.
- `upload(url, session, size)`: the HTTP status of uploading `size` bytes into the session
  (413 above the server's upload cap).
"""

from __future__ import annotations

import http.client
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

XSRF_COOKIE = "_streamlit_xsrf"


@dataclass
class Session:
    id: str
    gather_usage_stats: bool
    page: bytes            # every message of the first script run, serialised
    xsrf: str | None       # the XSRF cookie the server set (None when XSRF is off)


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, or None if it has none."""
    candidates = []
    for target in ("10.255.255.255", "198.51.100.1", "203.0.113.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:   # no packet is sent: connecting a UDP socket only picks the outgoing route
                probe.connect((target, 9))
                candidates.append(probe.getsockname()[0])
            except OSError:
                pass
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                                 socket.AF_INET)]
    except OSError:
        pass
    return next((address for address in candidates
                 if not address.startswith("127.") and address != "0.0.0.0"), None)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _xsrf_cookie(url: str) -> str | None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", "/_stcore/health")   # sets the XSRF cookie, as "/" does not
        answer = connection.getresponse()
        answer.read()
        for header, value in answer.getheaders():
            if header.lower() == "set-cookie" and value.startswith(f"{XSRF_COOKIE}="):
                return value.split(";", 1)[0].split("=", 1)[1]
        return None
    finally:
        connection.close()


@contextmanager
def open_session(url: str, timeout: float = 120) -> Iterator[Session]:
    """Open the page's websocket, run the script once and collect what the server sends;
    the session lives until the `with` block ends."""
    xsrf = _xsrf_cookie(url)
    parts = urlsplit(url)
    headers = {"Cookie": f"{XSRF_COOKIE}={xsrf}"} if xsrf else {}
    protocols = ["streamlit", xsrf] if xsrf else ["streamlit"]
    with connect(f"ws://{parts.netloc}/_stcore/stream", subprotocols=protocols,
                 additional_headers=headers, open_timeout=timeout, max_size=None) as socket_:
        request = BackMsg()
        request.rerun_script.query_string = ""
        request.rerun_script.page_script_hash = ""
        socket_.send(request.SerializeToString())
        session_id, stats, page = None, None, b""
        while True:
            raw = socket_.recv(timeout=timeout)
            message = ForwardMsg.FromString(raw)
            page += raw
            kind = message.WhichOneof("type")
            if kind == "new_session":
                session_id = message.new_session.initialize.session_id
                stats = message.new_session.config.gather_usage_stats
            elif kind == "script_finished":
                break
        yield Session(session_id, stats, page, xsrf)


def upload(url: str, session: Session, size: int) -> int:
    """PUT a file of `size` bytes into `session` as the file uploader does; the HTTP status."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "Content-Length": str(len(head) + size + len(tail))}
    if session.xsrf:
        headers |= {"X-Xsrftoken": session.xsrf, "Cookie": f"{XSRF_COOKIE}={session.xsrf}"}
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("PUT", f"/_stcore/upload_file/{session.id}/{uuid.uuid4()}")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        try:
            connection.send(head)
            chunk = b"\0" * (1 << 20)
            for start in range(0, size, len(chunk)):
                connection.send(chunk[:min(len(chunk), size - start)])
            connection.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server may answer and close before reading a refused body
        return connection.getresponse().status
    finally:
        connection.close()


@dataclass
class Served:
    """What a running dashboard does, seen from outside."""

    on_loopback: bool
    other_address: str | None      # a non-loopback address of this machine, if it has one
    on_other_address: bool         # accepts connections there
    usage_stats: bool
    xsrf: bool
    accepted_mb: dict[int, bool]   # upload size in MB -> accepted
    page: bytes


def served(url: str, upload_mb: tuple[int, ...] = ()) -> Served:
    """Probe the dashboard at `url`; try an upload of each size in `upload_mb`."""
    port = urlsplit(url).port
    other = non_loopback_address()
    with open_session(url) as session:
        accepted = {}
        for size in upload_mb:
            status = upload(url, session, size << 20)
            assert status in (204, 413), f"upload of {size} MB: HTTP {status}"
            accepted[size] = status == 204
    return Served(on_loopback=reachable("127.0.0.1", port), other_address=other,
                  on_other_address=other is not None and reachable(other, port),
                  usage_stats=session.gather_usage_stats, xsrf=session.xsrf is not None,
                  accepted_mb=accepted, page=session.page)
