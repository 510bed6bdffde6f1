"""The replica's HTTP proxy: plain absolute-URI requests and CONNECT tunnels with local TLS.

Responses are written byte by byte here (status line, every header as given, chunk framing)
so the replica controls exactly what goes on the wire: repeated headers, chunked or
Content-Length bodies, gzip. It never opens an outbound connection; hosts outside the
registry are refused with 403.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit

MAX_LINE = 65536
MAX_HEADERS = 200
REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunked: bool = False
    # Fault mode: when set, this writes the answer itself (slowly, cut short, reset...) on the
    # connection, which is closed afterwards; ``body`` and ``chunked`` are then unused.
    action: Callable[[Wire], None] | None = None


class Wire:
    """The client connection, handed to a fault ``Response.action``."""

    def __init__(self, sock: socket.socket, rfile, wfile) -> None:
        self.sock, self.rfile, self.wfile = sock, rfile, wfile

    def write(self, data: bytes) -> bool:
        """Send ``data`` now; False once the client has gone."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
            return True
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """End the connection cleanly: TLS close_notify (when TLS), then FIN."""
        try:
            self.wfile.flush()
            if isinstance(self.sock, ssl.SSLSocket):
                self.sock.unwrap()
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), no TLS close_notify, no FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for f in (self.rfile, self.wfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        try:
            self.sock.close()
        except OSError:
            pass


@dataclass
class SentResponse:
    """One response as it left the replica (body without chunk framing, still encoded)."""

    method: str
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    time: float
    host: str
    request_headers: list[tuple[str, str]] = field(default_factory=list, repr=False)


# handler(method, url, request_headers) -> Response; url is absolute (scheme://host/target)
Handler = Callable[[str, str, list[tuple[str, str]]], Response]


def _read_head(rfile) -> tuple[str, list[tuple[str, str]]] | None:
    line = rfile.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between keep-alive requests
        line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    headers = []
    for _ in range(MAX_HEADERS):
        h = rfile.readline(MAX_LINE + 1)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").strip(), headers


def _get(headers: list[tuple[str, str]], name: str) -> str:
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return ""


def write_response(
    wfile, method: str, resp: Response, keep_alive: bool, before_write=None
) -> tuple[list[tuple[str, str]], bytes]:
    """Write ``resp``; return the headers and the body as sent (body de-chunked).

    ``before_write(headers, body)`` runs before the first byte goes out, so whoever records
    responses has done so by the time the client holds the answer."""
    reason = REASONS.get(resp.status, "Unknown")
    headers = list(resp.headers)
    no_body = resp.status in (204, 304) or 100 <= resp.status < 200
    if not no_body:
        if resp.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(resp.body))))
    headers.append(("Connection", "keep-alive" if keep_alive else "close"))
    lines = [f"HTTP/1.1 {resp.status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    out = bytearray(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if method != "HEAD" and not no_body:
        if resp.chunked:
            step = 4096
            for i in range(0, len(resp.body), step):
                piece = resp.body[i : i + step]
                out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            out += b"0\r\n\r\n"
        else:
            out += resp.body
    sent = headers, (b"" if no_body or method == "HEAD" else resp.body)
    if before_write is not None:
        before_write(sent)
    wfile.write(bytes(out))
    wfile.flush()
    return sent


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self,
        addr,
        handler: Handler,
        is_registered: Callable[[str], bool],
        ssl_context: ssl.SSLContext,
        record: Callable[[SentResponse], None],
        hang_connect: Callable[[str], bool] | None = None,
    ):
        self.app = handler
        self.hang_connect = hang_connect
        self.is_registered = is_registered
        self.ssl_context = ssl_context
        self.record = record
        # CONNECT tunnels per host: opened in all, open now, most open at once (for
        # checks of a client's connection pooling)
        self.tunnels: dict[str, dict[str, int]] = {}
        self._tunnel_lock = threading.Lock()
        super().__init__(addr, _Conn)

    def count_tunnel(self, host: str, step: int) -> None:
        with self._tunnel_lock:
            t = self.tunnels.setdefault(host, {"opened": 0, "open": 0, "peak": 0})
            t["opened"] += max(step, 0)
            t["open"] += step
            t["peak"] = max(t["peak"], t["open"])


def refusal(host: str) -> Response:
    msg = (
        f"newsarchive replica: host {host} is not a registered outlet; nothing leaves loopback\n"
    ).encode()
    return Response(403, [("Content-Type", "text/plain; charset=utf-8")], msg)


class _Conn(socketserver.BaseRequestHandler):
    server: ProxyServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(60)
        try:
            rfile = sock.makefile("rb")
            wfile = sock.makefile("wb")
            head = _read_head(rfile)
            if head is None:
                return
            line, headers = head
            parts = line.split()
            if len(parts) == 3 and parts[0].upper() == "CONNECT":
                self._tunnel(sock, rfile, wfile, parts[1])
                return
            self._serve(rfile, wfile, "http", None, first=(line, headers), sock=sock)
        except (OSError, ssl.SSLError, ValueError):
            return

    def _tunnel(self, sock, rfile, wfile, target: str) -> None:
        host = target.rsplit(":", 1)[0].strip("[]").lower()
        if not self.server.is_registered(host):
            resp = refusal(host)
            arrived = time.time()
            write_response(
                wfile,
                "CONNECT",
                resp,
                False,
                partial(
                    self._record, "CONNECT", f"https://{target}", resp.status, arrived, host, []
                ),
            )
            return
        if self.server.hang_connect is not None and self.server.hang_connect(target):
            # Fault mode: the origin "does not answer"; the client's connect never completes.
            self._record("CONNECT", f"https://{target}", 0, time.time(), host, [], ([], b""))
            while sock.recv(4096):  # until the client gives up (or the 60 s socket timeout)
                pass
            return
        wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        wfile.flush()
        tls = self.server.ssl_context.wrap_socket(sock, server_side=True)
        rfile, wfile = tls.makefile("rb"), tls.makefile("wb")
        self.server.count_tunnel(host, 1)
        try:
            self._serve(rfile, wfile, "https", host, first=None, sock=tls)
        finally:
            # Close the tunnel at once (file objects too: they keep the socket open), so a
            # client closing its pool is not left waiting for the TCP close.
            for f in (rfile, wfile):
                try:
                    f.close()
                except (OSError, ssl.SSLError, ValueError):
                    pass
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except (OSError, ssl.SSLError, ValueError):
                pass
            tls.close()
            self.server.count_tunnel(host, -1)

    def _serve(self, rfile, wfile, scheme: str, tunnel_host: str | None, first, sock) -> None:
        while True:
            head = first or _read_head(rfile)
            first = None
            if head is None:
                return
            arrived = time.time()
            line, headers = head
            parts = line.split()
            if len(parts) != 3:
                write_response(
                    wfile,
                    "GET",
                    Response(400, [("Content-Type", "text/plain")], b"bad request line\n"),
                    False,
                )
                return
            method, target, version = parts[0].upper(), parts[1], parts[2].upper()
            length = _get(headers, "Content-Length")
            if length.isdigit():
                rfile.read(int(length))
            if target.startswith(("http://", "https://")):
                url = target
            else:
                host = tunnel_host or _get(headers, "Host").split(":")[0].lower()
                url = f"{scheme}://{host}{target if target.startswith('/') else '/' + target}"
            host = (urlsplit(url).hostname or "").lower()
            if tunnel_host and host != tunnel_host:
                url, host = url.replace(f"//{host}", f"//{tunnel_host}", 1), tunnel_host
            conn_hdr = _get(headers, "Connection").lower()
            keep = "close" not in conn_hdr and (version == "HTTP/1.1" or "keep-alive" in conn_hdr)
            if not self.server.is_registered(host):
                resp = refusal(host)
            else:
                try:
                    resp = self.server.app(method, url, headers)
                except Exception as exc:  # a bug must show as a 500 page, not a dead socket
                    resp = Response(
                        500, [("Content-Type", "text/plain")], f"replica error: {exc!r}\n".encode()
                    )
            if resp.action is not None:
                self._record(method, url, resp.status, arrived, host, headers, (resp.headers, b""))
                resp.action(Wire(sock, rfile, wfile))
                return
            write_response(
                wfile,
                method,
                resp,
                keep,
                partial(self._record, method, url, resp.status, arrived, host, headers),
            )
            if not keep:
                return

    def _record(self, method, url, status, arrived, host, req_headers, sent) -> None:
        headers, body = sent
        self.server.record(
            SentResponse(method, url, status, headers, body, arrived, host, list(req_headers))
        )


def start_server(
    host: str,
    port: int,
    handler: Handler,
    is_registered: Callable[[str], bool],
    ssl_context: ssl.SSLContext,
    record: Callable[[SentResponse], None],
    hang_connect: Callable[[str], bool] | None = None,
) -> tuple[ProxyServer, threading.Thread]:
    server = ProxyServer((host, port), handler, is_registered, ssl_context, record, hang_connect)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="newsarchive-replica",
        daemon=True,
    )
    thread.start()
    return server, thread
