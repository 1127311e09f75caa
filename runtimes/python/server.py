"""The Python runtime server: runs inside each function instance, standard library only
(Python 3.9+). It starts generic, is specialized once with a function's package
(POST /v2/specialize), then serves invocations. Protocol: docs/runtime-protocol.md."""
import asyncio
import json
import os
import re
import signal
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from runlet_runtime import compat, flask_shim
from runlet_runtime.control import Control, LogStream
from runlet_runtime.frames import FrameConnection
from runlet_runtime.http_server import make_http_handler
from runlet_runtime.invoke import Target, invoke, send_json
from runlet_runtime.loader import LoadError, load_handler
from runlet_runtime.log_stream import LogBuffer
from runlet_runtime.package_fetch import PackageRefused, place_files
from runlet_runtime.stopping import GracefulStop

# The runtime's own directory must not shadow the function's modules.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _here]
# The package directory is read-only in the sandbox, and the store's copy must stay unchanged.
sys.dont_write_bytecode = True

#: Sync handler calls running at once, at most.
MAX_HANDLER_THREADS = 200


class Runtime:
    def __init__(self, control, streams, logs):
        self.control = control
        self.streams = streams
        #: The log stream of GET /v2/logs, without a control pipe; None with one.
        self.logs = logs
        self.loaded = None
        self.specializing = False
        self.stop = GracefulStop(logs)

    async def route(self, call, res):
        """HTTP requests: control paths for the supervisor, invocations for everyone else."""
        if "x-call-id" not in call.headers:
            if call.url == "/v2/logs" and call.method == "GET" and self.logs is not None:
                return await self.serve_logs(res)
            if call.url == "/healthz":
                return send_json(res, 200, {"status": "ok", "specialized": self.loaded is not None})
            if call.url == "/v2/specialize" and call.method == "POST":
                return self.specialize(res, call.body)
        await self.serve_call(call, res)

    async def serve_logs(self, res):
        if self.logs.reading:
            return send_json(
                res,
                409,
                {
                    "error": {
                        "code": "RUNLET_LOGS_TAKEN",
                        "message": "another reader is reading this instance's logs; they go to "
                        "one reader at a time",
                    }
                },
            )
        await self.logs.serve(res, res.peer_gone())

    async def serve_call(self, call, res):
        self.stop.call_started()
        try:
            await self._serve_call(call, res)
        finally:
            self.stop.call_ended()

    async def _serve_call(self, call, res):
        if self.loaded is None:
            return send_json(
                res,
                503,
                {
                    "error": {
                        "code": "RUNLET_NOT_SPECIALIZED",
                        "message": "instance has no function loaded yet",
                    }
                },
            )
        await invoke(call, res, self.loaded, self.control, self.streams)

    def specialize(self, res, body):
        if self.loaded is not None or self.specializing:
            return send_json(
                res,
                409,
                {
                    "error": {
                        "code": "RUNLET_ALREADY_SPECIALIZED",
                        "message": "one instance serves one revision",
                    }
                },
            )
        self.specializing = True
        started = time.perf_counter()
        try:
            request = json.loads(body.decode("utf-8"))
            # A pod fetches its package and writes its secrets itself (package_fetch.py).
            place_files(request)
            os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
            package = request["packagePath"]
            os.chdir(package)
            if request.get("compat") == "fission":
                # Fission's handlers take the request from Flask's global: give them one.
                flask_shim.install()
            fn, _file = load_handler(package, request.get("handler") or "handler.py")
            # Each call of a sync handler holds a thread; the instance's process limit (256
            # pids) bounds how many there can be.
            threads = min(MAX_HANDLER_THREADS, max(1, int(request.get("concurrency") or 1)))
            self.loaded = Target(
                fn,
                compat.shape_of(fn, request.get("compat")),
                request.get("name"),
                request.get("revision"),
                request.get("secretsDir"),
                ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handler"),
            )
            send_json(
                res, 200, {"status": "ready", "loadMs": (time.perf_counter() - started) * 1000}
            )
        except LoadError as error:
            self.specializing = False
            send_json(res, 422, error.to_json())
        except PackageRefused as error:
            self.specializing = False
            send_json(
                res, 422, {"error": {"code": "RUNLET_PACKAGE_REFUSED", "message": str(error)}}
            )
        except Exception as error:  # noqa: B902 — our bug or a bad request: the supervisor shows it
            self.specializing = False
            send_json(
                res,
                500,
                {
                    "error": {
                        "code": "RUNLET_SPECIALIZE_FAILED",
                        "message": "%s: %s" % (type(error).__name__, error),
                    }
                },
            )


def _is_pipe(fd):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _exit_when_stdin_closes():
    """stdin is a pipe from the supervisor that is never written: its end means the supervisor
    is gone (even if it was killed), so the instance must not outlive it."""

    def watch():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


_TCP_ADDRESS = re.compile(r"^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$")


def _tcp_address(variable, value):
    """"HOST:PORT" (an IPv6 host in brackets, "[::1]:8080") as (host, port); exits naming the
    variable when it is not one."""
    match = _TCP_ADDRESS.match(value.strip())
    port = int(match.group(3)) if match else 0
    if not match or not 0 < port < 65536:
        sys.__stderr__.write(
            "%s must be HOST:PORT (e.g. 0.0.0.0:8888), not %s\n" % (variable, json.dumps(value))
        )
        sys.__stderr__.flush()
        os._exit(1)
    return match.group(1) or match.group(2), port


def _listen_at(address_variable, socket_variable):
    """Where a server listens (docs/runtime-protocol.md, "Transports"): ("tcp", host, port) from
    the address variable, else ("unix", path) from the socket variable, else None."""
    address = os.environ.get(address_variable)
    if address:
        return ("tcp",) + _tcp_address(address_variable, address)
    path = os.environ.get(socket_variable)
    return ("unix", path) if path else None


async def serve(runtime):
    loop = asyncio.get_running_loop()
    http_at = _listen_at("RUNLET_HTTP_ADDRESS", "RUNLET_SOCKET") or (
        "tcp",
        "0.0.0.0",
        int(os.environ.get("PORT") or 8888),
    )
    frames_at = _listen_at("RUNLET_FRAME_ADDRESS", "RUNLET_FRAME_SOCKET")
    stop = runtime.stop
    handle_http = make_http_handler(runtime.route, stop.connections)
    try:
        if http_at[0] == "unix":
            server = await asyncio.start_unix_server(handle_http, path=http_at[1], limit=2**20)
        else:
            server = await asyncio.start_server(
                handle_http, host=http_at[1], port=http_at[2], limit=2**20
            )
        stop.servers.append(server)
        if frames_at is not None:
            # Invocations in frames on a second server when the supervisor asks for one.
            def frame_connection():
                return FrameConnection(runtime.serve_call, stop.connections)

            if frames_at[0] == "unix":
                frame_server = await loop.create_unix_server(frame_connection, path=frames_at[1])
            else:
                frame_server = await loop.create_server(
                    frame_connection, host=frames_at[1], port=frames_at[2]
                )
            stop.servers.append(frame_server)
    except OSError as error:
        sys.__stderr__.write("cannot listen: %s\n" % error)
        sys.__stderr__.flush()
        os._exit(1)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.on_signal)
    runtime.control.send({"event": "ready", "pid": os.getpid()})
    await loop.create_future()


def main():
    fd = os.environ.get("RUNLET_CONTROL_FD")
    # Without a control pipe (a pod), the tagged lines are served on GET /v2/logs.
    logs = LogBuffer() if not fd else None
    control = Control(int(fd) if fd else None, logs)
    if fd and _is_pipe(0):
        _exit_when_stdin_closes()
    # print() and logging go to the function's logs, tagged with the call that wrote them.
    sys.stdout = LogStream(control, "stdout", sys.__stdout__)
    sys.stderr = LogStream(control, "stderr", sys.__stderr__)
    streams = (sys.stdout, sys.stderr)
    asyncio.run(serve(Runtime(control, streams, logs)))


if __name__ == "__main__":
    main()
