"""The invocation channel in frames (docs/runtime-protocol.md, "Invocation frames"): many calls
multiplexed over a few persistent connections from the gateway. The same format as
runtimes/shared/frames.mjs and src/provider/frames.ts."""
import asyncio
import json
import struct
import sys

REQUEST_HEAD = 1
REQUEST_BODY = 2
REQUEST_END = 3
RESPONSE_HEAD = 4
RESPONSE_BODY = 5
RESPONSE_END = 6
CANCEL = 7
ERROR = 8
WINDOW = 9

HEADER = struct.Struct(">IBI")
HEADER_BYTES = HEADER.size
MAX_FRAME_BYTES = 16 * 2**20
#: Body bytes of one response stream the gateway may hold unacknowledged.
STREAM_WINDOW_BYTES = 2**20
#: Bodies above this go out as several frames.
MAX_BODY_FRAME_BYTES = 2**20
#: Frames queued up to this size wait for the end of the loop turn and leave in one write.
COALESCE_BYTES = 64 * 1024


class FrameError(Exception):
    """A malformed frame: the connection is closed."""


def encode_frame(frame_type, stream_id, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return HEADER.pack(len(payload) + 5, frame_type, stream_id) + payload


class Call:
    """One invocation as the runtime sees it, whichever way it came."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method, url, headers, body):
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


class FrameResponse:
    """The answer to one framed call: start(), write() (awaits the window), end(), fail()."""

    def __init__(self, connection, stream_id):
        self._connection = connection
        self._id = stream_id
        self._head = None
        self._chunks = []
        self._outstanding = 0
        self._wake = None
        self.started = False
        self.closed = False
        self.cancel_reason = None
        #: Called with the reason when the gateway cancels the call.
        self.on_cancel = None

    def start(self, status, headers):
        # Held back so head, body and end of a small answer leave in one write.
        self._head = json.dumps({"status": status, "headers": headers}).encode("utf-8")
        self.started = True

    async def write(self, data):
        if self.closed or not data:
            return
        self._send(data, False)
        self._outstanding += len(data)
        while not self.closed and (
            self._connection.paused or self._outstanding >= STREAM_WINDOW_BYTES
        ):
            self._wake = asyncio.get_running_loop().create_future()
            await self._wake

    def end(self, data=b""):
        if self.closed:
            return
        self._send(data, True)
        self._close()

    def fail(self, message):
        """The answer failed after it started: the gateway cuts its caller off."""
        if self.closed:
            return
        self._connection.send([encode_frame(ERROR, self._id, str(message))])
        self._close()

    def cancel(self, reason):
        if self.closed:
            return
        self.cancel_reason = reason or "caller went away"
        self._close()
        if self.on_cancel is not None:
            self.on_cancel(self.cancel_reason)

    def credit(self, count):
        self._outstanding -= count
        self.resume()

    def resume(self):
        wake = self._wake
        if wake is not None and not wake.done():
            self._wake = None
            wake.set_result(None)

    def _send(self, body, end):
        parts = []
        if self._head is not None:
            parts.append(encode_frame(RESPONSE_HEAD, self._id, self._head))
            self._head = None
        length = len(body) if body else 0
        for offset in range(0, length, MAX_BODY_FRAME_BYTES):
            piece = body[offset : offset + MAX_BODY_FRAME_BYTES]
            parts.append(HEADER.pack(len(piece) + 5, RESPONSE_BODY, self._id))
            parts.append(bytes(piece))
        if end:
            parts.append(HEADER.pack(5, RESPONSE_END, self._id))
        self._connection.send(parts)

    def _close(self):
        self.closed = True
        self._connection.streams.pop(self._id, None)
        self.resume()


class _Stream:
    __slots__ = ("head", "chunks", "response", "started")

    def __init__(self, head, response):
        self.head = head
        self.chunks = []
        self.response = response
        self.started = False


class FrameConnection(asyncio.Protocol):
    """Serves one connection from the gateway; serve_call(call, response) runs each call."""

    def __init__(self, serve_call, connections):
        self._serve_call = serve_call
        #: The open connections, for a graceful stop; this one is in it while open.
        self._connections = connections
        self._closed = asyncio.get_event_loop().create_future()
        self._loop = asyncio.get_event_loop()
        self._buffer = bytearray()
        self._outgoing = []
        self._outgoing_bytes = 0
        self._flush_scheduled = False
        self._transport = None
        self.streams = {}
        self.paused = False

    def connection_made(self, transport):
        self._transport = transport
        self._connections.add(self)

    def close(self):
        """Ends the connection once what is queued has been written.

        Our side ends first (a half-close) and the transport closes when the gateway closes its
        own: closing at once would answer the gateway's last frames (window updates for the
        answer it is still reading) with a reset, and fail a call whose answer was all sent.
        """
        self._flush()
        if self._transport.can_write_eof():
            self._transport.write_eof()
            self._loop.call_later(1.0, self._transport.close)
        else:
            self._transport.close()

    async def wait_closed(self):
        await self._closed

    def data_received(self, data):
        self._buffer += data
        try:
            self._decode()
        except (FrameError, ValueError) as error:
            sys.__stderr__.write("invocation channel: %s; closing it\n" % error)
            self._transport.abort()

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        for stream in list(self.streams.values()):
            stream.response.resume()

    def connection_lost(self, exc):
        self._connections.discard(self)
        if not self._closed.done():
            self._closed.set_result(None)
        for stream in list(self.streams.values()):
            stream.response.cancel("the gateway closed the connection")
        self.streams.clear()
        self.paused = False

    def send(self, parts):
        if self._transport is None or self._transport.is_closing():
            return
        self._outgoing.extend(parts)
        self._outgoing_bytes += sum(len(part) for part in parts)
        if self._outgoing_bytes >= COALESCE_BYTES:
            self._flush()
        elif not self._flush_scheduled:
            # Answers to calls that arrived together leave in one write.
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_scheduled = False
        parts = self._outgoing
        self._outgoing = []
        self._outgoing_bytes = 0
        if parts and not self._transport.is_closing():
            self._transport.write(b"".join(parts))

    def _decode(self):
        buffer = self._buffer
        size = len(buffer)
        offset = 0
        while size - offset >= 4:
            length = int.from_bytes(buffer[offset : offset + 4], "big")
            if length < 5 or length > MAX_FRAME_BYTES:
                raise FrameError("invalid frame length %d" % length)
            if size - offset < 4 + length:
                break
            frame_type = buffer[offset + 4]
            stream_id = int.from_bytes(buffer[offset + 5 : offset + 9], "big")
            payload = bytes(buffer[offset + HEADER_BYTES : offset + 4 + length])
            offset += 4 + length
            self._on_frame(frame_type, stream_id, payload)
            if self._transport.is_closing():
                return
        if offset:
            del buffer[:offset]

    def _on_frame(self, frame_type, stream_id, payload):
        if frame_type == REQUEST_HEAD:
            head = json.loads(payload.decode("utf-8"))
            if not isinstance(head, dict):
                raise FrameError("request head is not a JSON object")
            self.streams[stream_id] = _Stream(head, FrameResponse(self, stream_id))
        elif frame_type == REQUEST_BODY:
            stream = self.streams.get(stream_id)
            if stream is not None:
                stream.chunks.append(payload)
        elif frame_type == REQUEST_END:
            stream = self.streams.get(stream_id)
            if stream is None or stream.started:
                return
            stream.started = True
            body = b"".join(stream.chunks)
            stream.chunks = []
            head = stream.head
            call = Call(
                str(head.get("method") or "GET"),
                str(head.get("path") or "/"),
                head.get("headers") or {},
                body,
            )
            self._loop.create_task(self._serve_call(call, stream.response))
        elif frame_type == CANCEL:
            stream = self.streams.pop(stream_id, None)
            if stream is not None:
                stream.response.cancel(payload.decode("utf-8", "replace"))
        elif frame_type == WINDOW:
            stream = self.streams.get(stream_id)
            if stream is not None and len(payload) >= 4:
                stream.response.credit(int.from_bytes(payload[:4], "big"))
        else:
            raise FrameError("unexpected frame type %d" % frame_type)
