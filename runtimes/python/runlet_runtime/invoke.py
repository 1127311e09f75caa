"""One invocation: the event and context a handler gets, running it (sync handlers in the
thread pool, async ones on the loop), and turning what it returns into the response."""
import asyncio
import contextvars
import datetime
import decimal
import inspect
import json
import os
import re
import threading
import time
import traceback
from urllib.parse import parse_qsl, urlsplit

from . import compat
from .control import captured_errors, captured_output, current_call

SECRET_NAME = re.compile(r"^[a-z0-9-]+$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class Headers(dict):
    """Request headers: stored lower-case (as Node gives them), looked up in any case."""

    def __getitem__(self, key):
        return dict.__getitem__(self, key.lower())

    def __contains__(self, key):
        return isinstance(key, str) and dict.__contains__(self, key.lower())

    def get(self, key, default=None):
        return dict.get(self, key.lower(), default) if isinstance(key, str) else default


class Event:
    """What a handler gets about the request; fields read as attributes or as keys."""

    __slots__ = ("method", "path", "query", "query_string", "headers", "body", "raw_body", "params")

    def __init__(self, method, path, query, headers, body, raw_body, params, query_string=""):
        self.method = method
        self.path = path
        self.query = query
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.raw_body = raw_body
        self.params = params

    def __getitem__(self, key):
        if key not in self.__slots__:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key) if key in self.__slots__ else default

    def __repr__(self):
        return "Event(method=%r, path=%r, query=%r)" % (self.method, self.path, self.query)


class Context:
    """What a handler gets about its call: id, function, deadline, cancellation, secrets."""

    def __init__(self, call_id, target, deadline):
        self.call_id = call_id
        self.function_name = target.name
        self.revision = target.revision
        #: Epoch seconds when the call times out, or None.
        self.deadline = deadline
        self.secrets_dir = target.secrets_dir
        #: Set when the call is cancelled (timeout, or the caller went away); sync handlers can
        #: wait on it or poll it.
        self.cancel_event = threading.Event()
        self.cancel_reason = None
        self.hostname = os.environ.get("HOSTNAME", "localhost")

    @property
    def cancelled(self):
        return self.cancel_event.is_set()

    def remaining_time(self):
        """Seconds left before the call times out (None without a deadline)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.time())

    def secret(self, name):
        """The value of a secret the function is given, or None."""
        if not self.secrets_dir or not SECRET_NAME.match(name):
            return None
        try:
            with open(os.path.join(self.secrets_dir, name), encoding="utf-8") as file:
                return file.read()
        except OSError:
            return None

    def __repr__(self):
        return "Context(call_id=%r, function_name=%r)" % (self.call_id, self.function_name)


class Target:
    """A loaded function: the handler, how to call it, and the pool its sync code runs in."""

    def __init__(self, fn, shape, name, revision, secrets_dir, pool):
        self.fn = fn
        self.shape = shape
        self.name = name
        self.revision = revision
        self.secrets_dir = secrets_dir
        self.pool = pool
        self.is_async = _is_async(fn)
        self.is_async_gen = inspect.isasyncgenfunction(fn) or inspect.isasyncgenfunction(
            getattr(fn, "__call__", None)  # noqa: B004 — the method's kind, not callability
        )


def _is_async(fn):
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 — the method's kind, not callability
    )


class HandlerError(Exception):
    """The function's code failed; the response is a 500 naming the exception."""


async def invoke(call, res, target, control, streams):
    headers = call.headers
    call_id = str(headers.get("x-call-id") or os.urandom(16).hex())
    deadline = _number(headers.get("x-runlet-deadline"))
    context = Context(call_id, target, deadline / 1000 if deadline else None)
    token = current_call.set(call_id)
    loop = asyncio.get_running_loop()
    work = None

    def cancel(reason):
        if context.cancel_event.is_set():
            return
        context.cancel_reason = reason
        context.cancel_event.set()
        # An async handler stops at its next await; a sync one can only be told.
        if work is not None and target.is_async:
            work.cancel()

    timer = None
    if deadline:
        timer = loop.call_later(
            max(0.0, deadline / 1000 - time.time()), cancel, "function timeout"
        )
    res.on_cancel = cancel
    try:
        event = build_event(call, headers)
        work = loop.create_task(_run(target, event, context, loop))
        try:
            result = await work
        except asyncio.CancelledError:
            if res.closed:
                return
            raise HandlerError(
                "CancelledError: " + (context.cancel_reason or "cancelled")
            ) from None
        if not res.closed:
            await send_result(res, result, target, loop, control, call_id)
    except HandlerError as error:
        if not res.closed:
            send_json(
                res,
                500,
                {"error": {"code": "RUNLET_HANDLER_ERROR", "message": str(error)}},
                {"x-runlet-error": "handler"},
            )
    except BaseException as error:  # noqa: B902 — any failure of the function's code is a 500
        if isinstance(error, (KeyboardInterrupt, asyncio.CancelledError)):
            raise
        control.log("stderr", _format_exception(error), call_id)
        if not res.closed:
            send_json(
                res,
                500,
                {"error": {"code": "RUNLET_HANDLER_ERROR", "message": describe(error)}},
                {"x-runlet-error": "handler"},
            )
    finally:
        if timer is not None:
            timer.cancel()
        for stream in streams:
            stream.finish(call_id)
        current_call.reset(token)


def describe(error):
    detail = str(error)
    return type(error).__name__ + (": " + detail if detail else "")


_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MACHINERY = (os.sep + "asyncio" + os.sep, os.sep + "concurrent" + os.sep)


def _format_exception(error):
    """The traceback without the runtime's own frames: what the function's author needs."""
    summary = traceback.TracebackException.from_exception(error)
    pending = [summary]
    while pending:
        current = pending.pop()
        current.stack = traceback.StackSummary.from_list(
            [
                frame
                for frame in current.stack
                if not frame.filename.startswith(_RUNTIME_DIR)
                and not any(part in frame.filename for part in _MACHINERY)
            ]
        )
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return "".join(summary.format()).rstrip()


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def build_event(call, headers):
    url = urlsplit(call.url)
    query = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        existing = query.get(key)
        if existing is None:
            query[key] = value
        elif isinstance(existing, list):
            existing.append(value)
        else:
            query[key] = [existing, value]
    content_type = headers.get("content-type")
    return Event(
        method=call.method,
        path=url.path or "/",
        query=query,
        headers=Headers((str(k).lower(), v) for k, v in headers.items()),
        body=decode_body(call.body, content_type if isinstance(content_type, str) else ""),
        raw_body=call.body,
        params=_params(headers.get("x-runlet-params")),
        query_string=url.query,
    )


def _params(header):
    if not isinstance(header, str):
        return {}
    try:
        params = json.loads(header)
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


def decode_body(raw, content_type):
    """As the Node runtime does: JSON parsed, text as str, anything else as bytes."""
    if not raw:
        return None
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        text = raw.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind.startswith("text/") or kind in ("application/x-www-form-urlencoded", ""):
        return raw.decode("utf-8", "replace")
    return raw


async def _run(target, event, context, loop):
    """Calls the handler in its shape; returns what it returned."""
    shape = target.shape
    if shape == "openfaas-classic":
        return await compat.run_openfaas_classic(target, event, loop, call_sync)
    if shape == "fission":
        return await _run_fission(target, event, loop)
    args = compat.arguments(shape, event, context)
    result = await call_handler(target, args, loop)
    if shape == "openfaas-http":
        return compat.openfaas_http_result(result)
    if shape == "kubeless":
        return compat.kubeless_result(result)
    return result


async def _run_fission(target, event, loop):
    from .flask_shim import HTTPException, current_globals, current_request

    token = current_request.set(event)
    globals_token = current_globals.set({})
    try:
        result = await call_handler(target, (), loop)
    except HTTPException as error:
        return {
            "statusCode": error.code,
            "headers": {"content-type": "text/html; charset=utf-8"},
            "body": error.description or "",
        }
    finally:
        current_request.reset(token)
        current_globals.reset(globals_token)
    return compat.fission_result(result)


async def call_handler(target, args, loop):
    fn = target.fn
    if target.is_async_gen:
        return fn(*args)
    if target.is_async:
        return await fn(*args)
    result = await call_sync(target, loop, fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


def call_sync(target, loop, fn, *args, capture=None, capture_errors=None):
    """Runs sync code in the function's thread pool, in the calling task's context."""
    context = contextvars.copy_context()
    if capture is not None:
        context.run(captured_output.set, capture)
    if capture_errors is not None:
        context.run(captured_errors.set, capture_errors)
    return loop.run_in_executor(target.pool, context.run, fn, *args)


def _is_stream(value):
    if isinstance(value, (str, bytes, bytearray, memoryview, dict, list, tuple)):
        return False
    return hasattr(value, "__anext__") or hasattr(value, "__next__") or hasattr(value, "__aiter__")


def _header_value(name, value):
    if isinstance(value, (list, tuple)):
        return [_header_value(name, item) for item in value]
    text = str(value)
    if "\r" in text or "\n" in text:
        raise ValueError("header %s has a line break in its value" % name)
    return text


def _response_headers(headers):
    if not isinstance(headers, dict):
        raise TypeError("response headers must be a dict, not " + type(headers).__name__)
    out = {}
    for name, value in headers.items():
        name = str(name).lower()
        if not HEADER_NAME.match(name):
            raise ValueError("invalid response header name %r" % name)
        if value is not None:
            out[name] = _header_value(name, value)
    return out


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if type(value).__name__ == "UUID":
        # uuid.UUID, without importing uuid (and platform) at every start.
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def to_json(value):
    # Compact, as JSON.stringify writes it.
    return json.dumps(
        value, default=_json_default, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def is_response(value):
    return (
        isinstance(value, dict)
        and isinstance(value.get("statusCode"), int)
        and not isinstance(value.get("statusCode"), bool)
    )


async def send_result(res, result, target, loop, control, call_id):
    status = 200
    headers = {}
    body = result
    if is_response(result):
        status = result["statusCode"]
        if not 100 <= status <= 599:
            raise ValueError("statusCode %d is not an HTTP status" % status)
        headers = _response_headers(result.get("headers") or {})
        body = result.get("body")
    if body is None:
        res.start(204 if result is None else status, headers)
        res.end()
        return
    if isinstance(body, str):
        return send(res, status, headers, "text/plain; charset=utf-8", body.encode("utf-8"))
    if isinstance(body, (bytes, bytearray, memoryview)):
        return send(res, status, headers, "application/octet-stream", bytes(body))
    if _is_stream(body):
        return await send_stream(res, status, headers, body, target, loop, control, call_id)
    send(res, status, headers, "application/json", to_json(body))


def _chunk_bytes(chunk):
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    return to_json(chunk)


_done = object()


def _next_chunk(iterator):
    return next(iterator, _done)


async def send_stream(res, status, headers, body, target, loop, control, call_id):
    headers.setdefault("content-type", "application/octet-stream")
    res.start(status, headers)
    is_async = hasattr(body, "__anext__") or hasattr(body, "__aiter__")
    iterator = body.__aiter__() if is_async and not hasattr(body, "__anext__") else body
    try:
        while not res.closed:
            if is_async:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
            else:
                # A sync generator may block between chunks: it runs in the pool.
                chunk = await call_sync(target, loop, _next_chunk, iterator)
                if chunk is _done:
                    break
            await res.write(_chunk_bytes(chunk))
        if res.closed:
            # The caller is gone: end the function's generator.
            await _close_iterator(iterator, is_async, target, loop)
        else:
            res.end()
    except asyncio.CancelledError:
        raise
    except Exception as error:
        control.log("stderr", "response stream failed: " + _format_exception(error), call_id)
        res.fail(describe(error))


async def _close_iterator(iterator, is_async, target, loop):
    try:
        if is_async and hasattr(iterator, "aclose"):
            await iterator.aclose()
        elif not is_async and hasattr(iterator, "close"):
            await call_sync(target, loop, iterator.close)
    except Exception:
        pass


def send(res, status, headers, default_type, data):
    headers.setdefault("content-type", default_type)
    headers["content-length"] = str(len(data))
    res.start(status, headers)
    res.end(data)


def send_json(res, status, value, extra_headers=None):
    headers = {"content-type": "application/json"}
    headers.update(extra_headers or {})
    send(res, status, headers, "application/json", to_json(value))
