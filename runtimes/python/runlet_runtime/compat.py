"""Handler shapes of other platforms, so their Python functions run unchanged:

- OpenFaaS python3-http: `handle(event, context)`, event.body bytes, event.headers, .method,
  .query, .path; returns {"statusCode", "body", "headers"} (a dict body is sent as JSON).
- OpenFaaS classic python3: `handle(req)`, req the body as str; what it returns (and prints)
  is the response body.
- Kubeless: `handler(event, context)`, event["data"] the body (parsed JSON for JSON).
- Fission: `main()` with no arguments, reading the request from `flask.request`; it returns
  what a Flask view returns.
"""
import collections.abc
import contextvars
import datetime
import inspect
import io
import json
import os

from .control import captured_errors, captured_output

#: The classic watchdog's variables of the call the current task or handler thread serves.
call_environ = contextvars.ContextVar("runlet_call_environ", default=None)


class CallEnviron(collections.abc.MutableMapping):
    """os.environ with the current call's Http_* variables laid over it. The classic watchdog
    forks a process per call with them set; here one process serves many calls, so each sees
    its own (os.getenv and os.environ read through this; writes go to the real environment)."""

    def __init__(self, base):
        self._base = base

    def __getitem__(self, key):
        overlay = call_environ.get()
        if overlay is not None and key in overlay:
            return overlay[key]
        return self._base[key]

    def __setitem__(self, key, value):
        self._base[key] = value

    def __delitem__(self, key):
        del self._base[key]

    def __iter__(self):
        overlay = call_environ.get() or {}
        yield from overlay
        yield from (key for key in self._base if key not in overlay)

    def __len__(self):
        return len(set(self._base).union(call_environ.get() or {}))

    def copy(self):
        return dict(self)

    def __repr__(self):
        return "environ(%r)" % (dict(self),)


def _install_call_environ():
    if not isinstance(os.environ, CallEnviron):
        # Rebinding (not clearing) is the point: os.getenv reads the module's environ.
        os.environ = CallEnviron(os.environ)  # noqa: B003


def classic_environ(event):
    """As the classic watchdog sets them: Http_Method, Http_Path, Http_Query, and each header
    as Http_<Header_Name> (Content-Type becomes Http_Content_Type)."""
    env = {
        "Http_Method": event.method or "GET",
        "Http_Path": event.path,
        "Http_Query": event.query_string,
    }
    for name, value in event.headers.items():
        if not name or not all(c.isalnum() or c == "-" for c in name):
            continue
        canonical = "_".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
        env["Http_" + canonical] = ", ".join(value) if isinstance(value, list) else str(value)
    return env


def shape_of(fn, compat):
    """How a handler is called, from the compat setting and the number of its parameters."""
    count = _positional_count(fn)
    if compat == "openfaas-classic":
        return "openfaas-classic"
    if compat == "openfaas":
        return "openfaas-classic" if count == 1 else "openfaas-http"
    if compat == "kubeless":
        return "kubeless"
    if compat == "fission" and count == 0:
        return "fission"
    if count is None or count >= 2:
        return "native"
    return "native-%d" % count


def _positional_count(fn):
    """Positional parameters the handler takes; None when it takes any number (*args)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind == parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class QueryArgs(dict):
    """OpenFaaS (Flask) query arguments: args["name"] is the first value, getlist() all of them."""

    def __init__(self, query):
        super().__init__(
            (key, value[0] if isinstance(value, list) else value) for key, value in query.items()
        )
        self._all = query

    def getlist(self, key):
        value = self._all.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


class OpenFaaSEvent:
    __slots__ = ("body", "headers", "method", "query", "path")

    def __init__(self, event):
        self.body = event.raw_body
        self.headers = event.headers
        self.method = event.method
        self.query = QueryArgs(event.query)
        self.path = event.path


def arguments(shape, event, context):
    if shape == "native":
        return (event, context)
    if shape == "native-1":
        return (event,)
    if shape == "native-0":
        return ()
    if shape == "openfaas-http":
        return (OpenFaaSEvent(event), context)
    if shape == "kubeless":
        return _kubeless_arguments(event, context)
    raise ValueError("unknown handler shape " + shape)


def _html(status, body, headers=None):
    merged = {"content-type": "text/html; charset=utf-8"}
    merged.update({str(k).lower(): v for k, v in (headers or {}).items()})
    return {"statusCode": status, "headers": merged, "body": body}


def openfaas_http_result(result):
    """As the python3-http template answers: a dict body as JSON, anything else as text."""
    if result is None:
        return _html(200, "")
    if isinstance(result, dict):
        status = result.get("statusCode", 200)
        headers = result.get("headers") or {}
        body = result.get("body", "")
        if isinstance(body, dict):
            merged = {"content-type": "application/json"}
            merged.update({str(k).lower(): v for k, v in headers.items()})
            return {"statusCode": status, "headers": merged, "body": body}
        if not isinstance(body, (bytes, bytearray)):
            body = str(body)
        return _html(status, body, headers)
    if isinstance(result, tuple) and 1 <= len(result) <= 3:
        # Flask's (body, status[, headers]) and (body, headers).
        body, status, headers = result[0], 200, {}
        for item in result[1:]:
            if isinstance(item, int):
                status = item
            elif isinstance(item, dict):
                headers = item
        if isinstance(body, (dict, list)):
            merged = {"content-type": "application/json"}
            merged.update({str(k).lower(): v for k, v in headers.items()})
            return {"statusCode": status, "headers": merged, "body": body}
        return _html(status, body if isinstance(body, (str, bytes)) else str(body), headers)
    if isinstance(result, (str, bytes, bytearray)):
        return _html(200, result)
    # Lists (JSON) and generators (streamed) as Runlet's own handlers answer.
    return result


async def run_openfaas_classic(target, event, loop, call_sync):
    """The classic template prints what handle(req) returns: stdout is the response body, with
    stderr in it too unless combine_output is false (as the classic watchdog does)."""
    _install_call_environ()
    request = event.raw_body.decode("utf-8", "replace")
    capture = []
    combined = os.environ.get("combine_output", "true").strip().lower() != "false"
    errors = capture if combined else None
    environ_token = call_environ.set(classic_environ(event))
    try:
        if target.is_async:
            token = captured_output.set(capture)
            errors_token = captured_errors.set(errors)
            try:
                result = await target.fn(request)
            finally:
                captured_errors.reset(errors_token)
                captured_output.reset(token)
        else:
            result = await call_sync(
                target, loop, target.fn, request, capture=capture, capture_errors=errors
            )
    finally:
        call_environ.reset(environ_token)
    printed = "".join(capture)
    body = printed + ("" if result is None else "%s\n" % (result,))
    content_type = os.environ.get("content_type") or "text/plain; charset=utf-8"
    return {"statusCode": 200, "headers": {"content-type": content_type}, "body": body}


class BottleRequest:
    """The part of Bottle's request that Kubeless Python functions use (Kubeless' runtime is a
    Bottle app): headers, the body as a file and as JSON, the query, method and path."""

    def __init__(self, event):
        self._event = event
        self.headers = event.headers
        self.method = event.method
        self.path = event.path
        self.fullpath = event.path
        self.query_string = event.query_string
        self.query = QueryArgs(event.query)
        self.GET = self.query
        self.params = self.query
        self.content_type = event.headers.get("content-type") or ""
        self.content_length = len(event.raw_body)
        self.url = event.path + ("?" + event.query_string if event.query_string else "")

    def get_header(self, name, default=None):
        return self._event.headers.get(name, default)

    @property
    def body(self):
        return io.BytesIO(bytes(self._event.raw_body))

    @property
    def json(self):
        """The body parsed, for a JSON request (as Bottle: None for any other)."""
        if self.content_type.split(";")[0].strip().lower() != "application/json":
            return None
        raw = bytes(self._event.raw_body)
        return json.loads(raw.decode("utf-8")) if raw else None

    def __getitem__(self, key):
        return getattr(self._event, key)

    def get(self, key, default=None):
        return self._event.get(key, default)


def _kubeless_arguments(event, context):
    content_type = event.headers.get("content-type") or ""
    data = event.body
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "replace")
    request = BottleRequest(event)
    # As Kubeless' runtime: the event metadata comes from the request's headers (its triggers
    # set them); a plain HTTP call gets the call's id and time and the body's type instead.
    kubeless_event = {
        "data": "" if data is None else data,
        "event-id": request.get_header("event-id") or context.call_id,
        "event-type": request.get_header("event-type") or content_type,
        "event-time": request.get_header("event-time")
        or datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "event-namespace": request.get_header("event-namespace") or "runlet",
        "extensions": {"request": request},
    }
    remaining = context.remaining_time()
    kubeless_context = {
        "function-name": context.function_name,
        "timeout": str(int(remaining)) if remaining is not None else "",
        "runtime": os.environ.get("FUNC_RUNTIME") or "python3",
        "memory-limit": os.environ.get("RUNLET_MEMORY_LIMIT", ""),
    }
    return (kubeless_event, kubeless_context)


def kubeless_result(result):
    """Kubeless sends a returned dict as JSON, even one with a statusCode key."""
    if isinstance(result, dict):
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": result}
    return result


def fission_result(result):
    """As Flask turns a view's return value into a response."""
    from .flask_shim import Response

    if isinstance(result, tuple) and 2 <= len(result) <= 3:
        response = fission_result(result[0])
        for item in result[1:]:
            if isinstance(item, (int, str)) and not isinstance(item, bool):
                response["statusCode"] = int(str(item).split()[0])
            elif isinstance(item, dict):
                response["headers"].update({str(k).lower(): v for k, v in item.items()})
        return response
    if isinstance(result, Response):
        body = result.response
        if isinstance(body, str):
            body = body.encode("utf-8")
        return {"statusCode": result.status_code, "headers": dict(result.headers), "body": body}
    if isinstance(result, (dict, list)):
        from .flask_shim import dumps

        # Flask's JSON provider: dates and the like as Flask writes them.
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": dumps(result).encode("utf-8"),
        }
    if isinstance(result, (str, bytes, bytearray)) or (
        result is not None and (hasattr(result, "__next__") or hasattr(result, "__anext__"))
    ):
        return _html(200, result)
    raise TypeError(
        "The view function did not return a valid response: it returned %s"
        % type(result).__name__
    )
