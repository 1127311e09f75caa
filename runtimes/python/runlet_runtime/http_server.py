"""HTTP/1.1 on the runtime's socket: /healthz and /v2/specialize for the supervisor, and
invocations from anything that speaks only HTTP (docs/runtime-protocol.md, "Requests")."""
import asyncio
from http import HTTPStatus

from .frames import Call

#: Request heads larger than this are refused.
MAX_HEAD_BYTES = 256 * 1024


class BadRequest(Exception):
    pass


class HttpResponse:
    """The answer to one HTTP request, with the interface of FrameResponse."""

    def __init__(self, writer, keep_alive, head_only, reader=None):
        self._writer = writer
        self._reader = reader
        self._keep_alive = keep_alive
        self._head_only = head_only
        self._status = 200
        self._headers = {}
        self._chunked = False
        self.started = False
        self.closed = False
        self.cancel_reason = None
        self.on_cancel = None

    def start(self, status, headers):
        self._status = status
        self._headers = headers
        self.started = True

    async def write(self, data):
        if self.closed or not data:
            return
        self._start_chunked()
        if not self._head_only:
            self._writer.write(b"%x\r\n" % len(data) + bytes(data) + b"\r\n")
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            self._lost("caller went away")

    async def write_head(self):
        """Sends the head now, for an answer whose body comes later (the log stream)."""
        if self.closed:
            return
        self._start_chunked()
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            self._lost("caller went away")

    async def peer_gone(self):
        """Completes when the caller closes the connection. It reads what the caller sends, so
        the connection serves nothing after this answer."""
        self._keep_alive = False
        try:
            while await self._reader.read(4096):
                pass
        except (ConnectionError, OSError):
            pass

    def _start_chunked(self):
        if not self._chunked:
            self._chunked = True
            self._headers = dict(self._headers)
            self._headers.pop("content-length", None)
            self._headers["transfer-encoding"] = "chunked"
            self._writer.write(self._head())

    def end(self, data=b""):
        if self.closed:
            return
        self.closed = True
        if self._chunked:
            tail = b""
            if data and not self._head_only:
                tail = b"%x\r\n" % len(data) + bytes(data) + b"\r\n"
            self._writer.write(tail + b"0\r\n\r\n")
            return
        headers = dict(self._headers)
        if self._status not in (204, 304) and not (100 <= self._status < 200):
            headers["content-length"] = str(len(data or b""))
        self._headers = headers
        self._writer.write(self._head() + (b"" if self._head_only else bytes(data or b"")))

    def fail(self, message):
        """Mid-stream failure: cutting the connection is the only signal left."""
        self.closed = True
        self._keep_alive = False
        self._writer.transport.abort()

    @property
    def keep_alive(self):
        return self._keep_alive and not self._writer.transport.is_closing()

    def _lost(self, reason):
        if self.closed:
            return
        self.closed = True
        self._keep_alive = False
        self.cancel_reason = reason
        if self.on_cancel is not None:
            self.on_cancel(reason)

    def _head(self):
        try:
            phrase = HTTPStatus(self._status).phrase
        except ValueError:
            phrase = "Status"
        lines = ["HTTP/1.1 %d %s" % (self._status, phrase)]
        for name, value in self._headers.items():
            if isinstance(value, (list, tuple)):
                lines.extend("%s: %s" % (name, item) for item in value)
            else:
                lines.append("%s: %s" % (name, value))
        if not self._keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


async def _read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError as error:
        raise BadRequest("malformed request line") from error
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest("malformed header line")
        name = name.strip().lower()
        value = value.strip()
        if name in headers:
            existing = headers[name]
            if name == "set-cookie":
                headers[name] = (existing if isinstance(existing, list) else [existing]) + [value]
            else:
                headers[name] = existing + ", " + value
        else:
            headers[name] = value
    return method, target, version, headers


async def _read_body(reader, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailers, up to the empty line.
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = headers.get("content-length")
    if length:
        try:
            count = int(length)
        except ValueError as error:
            raise BadRequest("invalid content-length") from error
        return await reader.readexactly(count)
    return b""


def make_http_handler(route, connections):
    """A connection handler for asyncio.start_server; route(call, response) answers each request.
    Each open connection's writer is in `connections`, for a graceful stop."""

    async def handle(reader, writer):
        connections.add(writer)
        try:
            while True:
                try:
                    method, target, version, headers = await _read_head(reader)
                    body = await _read_body(reader, headers)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (asyncio.LimitOverrunError, BadRequest, ValueError):
                    writer.write(
                        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    )
                    return
                connection = headers.get("connection", "").lower()
                keep_alive = version == "HTTP/1.1" and "close" not in connection
                response = HttpResponse(writer, keep_alive, method == "HEAD", reader)
                await route(Call(method, target, headers, body), response)
                if not response.closed:
                    response.end()
                await writer.drain()
                if not response.keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            connections.discard(writer)
            writer.close()

    return handle
