"""The function's call-tagged log lines as a stream for one reader, `GET /v2/logs`, for a
runtime that has no control pipe (a pod): one JSON object a line (docs/runtime-protocol.md,
"Logs without a control pipe"). Lines come from any thread (sync handlers run in a pool); the
reader is served on the event loop."""
import asyncio
import collections
import json
import sys
import threading
import time

#: Lines kept while nobody reads (or the reader is slow): the newest this many.
KEPT_LOG_LINES = 1000


def _line(stream, text, call_id):
    record = {"time": int(time.time() * 1000), "stream": stream}
    if call_id is not None:
        record["callId"] = call_id
    record["text"] = text
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class LogBuffer:
    def __init__(self):
        self._lock = threading.Lock()
        self._kept = collections.deque()
        self._dropped = 0
        self._reading = False
        self._ended = False
        #: Set (on the loop) when lines arrive for a waiting reader.
        self._wake = None
        self._loop = None
        self._served = None

    def write(self, stream, text, call_id):
        """One line the function wrote, with the call it belongs to (any thread)."""
        if self._ended:
            # The stream is ending (a stop): what comes now goes to the process's own output.
            original = sys.__stderr__ if stream == "stderr" else sys.__stdout__
            original.write(text + "\n")
            original.flush()
            return
        line = _line(stream, text, call_id)
        with self._lock:
            self._kept.append(line)
            if len(self._kept) > KEPT_LOG_LINES:
                self._kept.popleft()
                self._dropped += 1
            wake = self._wake if self._reading else None
        if wake is not None and not wake.is_set():
            self._loop.call_soon_threadsafe(wake.set)

    @property
    def reading(self):
        """A reader is connected: the stream goes to one reader at a time."""
        return self._reading

    async def serve(self, res, peer_gone):
        """Answers GET /v2/logs: the kept lines, then each new one, until the reader goes (the
        awaitable `peer_gone` completes) or the stream ends."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._served = self._loop.create_future()
        self._reading = True
        gone = asyncio.ensure_future(peer_gone)
        try:
            res.start(200, {"content-type": "application/x-ndjson", "cache-control": "no-store"})
            # The reader knows it is connected before the first line comes.
            await res.write_head()
            while not res.closed:
                self._wake.clear()
                data = self._take()
                if data:
                    await res.write(data)
                    continue
                if self._ended:
                    break
                woken = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if gone.done():
                    break
        finally:
            gone.cancel()
            self._reading = False
            if not self._served.done():
                self._served.set_result(None)
        if not res.closed and not gone.done():
            res.end()

    async def end(self):
        """Ends the stream once the reader has the lines kept for it (a stop, after the last
        call)."""
        self._ended = True
        if self._reading:
            self._wake.set()
            await self._served

    def _take(self):
        with self._lock:
            lines = list(self._kept)
            self._kept.clear()
            dropped = self._dropped
            self._dropped = 0
        if dropped:
            notice = (
                "runlet: %d log line%s dropped while no reader kept up (the runtime keeps the "
                "last %d)" % (dropped, " was" if dropped == 1 else "s were", KEPT_LOG_LINES)
            )
            lines.insert(0, _line("stderr", notice, None))
        return b"".join(lines)
