"""Stopping on SIGTERM or SIGINT (a pod being stopped, Ctrl-C): take no new connections, let
the calls in progress finish with their whole answers, end the log stream once they have, then
exit 0 (docs/runtime-protocol.md, "Stopping"). A second signal exits at once."""
import asyncio
import os
import sys


class GracefulStop:
    """Counts calls in progress and knows the open connections, so a stop can wait for one and
    then close the other."""

    def __init__(self, logs=None):
        self._logs = logs
        self.servers = []
        #: Open connections, each with close() and wait_closed() (asyncio.StreamWriter's shape).
        self.connections = set()
        self._calls = 0
        self._stopping = False
        self._idle = None

    def call_started(self):
        self._calls += 1

    def call_ended(self):
        self._calls -= 1
        if self._calls == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def on_signal(self):
        if self._stopping:
            sys.__stderr__.write("stopping without waiting for the calls in progress\n")
            sys.__stderr__.flush()
            os._exit(1)
        self._stopping = True
        asyncio.get_running_loop().create_task(self._stop())

    async def _stop(self):
        for server in self.servers:
            server.close()
        if self._calls > 0:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle
        if self._logs is not None:
            await self._logs.end()
        # Answers already queued (frames wait for the end of a loop turn) leave first.
        await asyncio.sleep(0)
        connections = list(self.connections)
        for connection in connections:
            connection.close()
        for connection in connections:
            try:
                await connection.wait_closed()
            except (ConnectionError, OSError):
                pass
        # Handler threads may never end (a sync handler cannot be interrupted): leave without
        # waiting for them, as their calls have answered.
        os._exit(0)
