"""The part of Flask that Fission's Python handlers use (`from flask import request`), for
functions run with compat fission when Flask itself is not installed: Fission's Python
environment serves them with Flask and calls `main()` with no arguments, the request being
Flask's global `request`. Installed as the module `flask` before such a handler loads."""
import contextvars
import json
import logging
import sys
import types
from urllib.parse import parse_qsl

from .invoke import Headers

#: The request of the call the current thread or task serves.
current_request = contextvars.ContextVar("runlet_fission_request", default=None)


class Response:
    """flask.Response: a body, a status and headers."""

    default_mimetype = "text/html"

    def __init__(self, response=None, status=None, headers=None, mimetype=None, content_type=None):
        self.response = b"" if response is None else response
        if isinstance(status, str):
            status = int(status.split()[0])
        self.status_code = 200 if status is None else int(status)
        self.headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
        if content_type is None:
            mimetype = mimetype or self.default_mimetype
            content_type = mimetype + ("; charset=utf-8" if mimetype.startswith("text/") else "")
        self.headers.setdefault("content-type", content_type)

    def get_data(self, as_text=False):
        body = self.response
        if isinstance(body, str):
            body = body.encode("utf-8")
        return body.decode("utf-8") if as_text else body


class HTTPException(Exception):
    """What flask.abort() raises: answered with its status."""

    def __init__(self, code, description=None):
        super().__init__(description or "HTTP %d" % code)
        self.code = code
        self.description = description


class _FlaskHeaders(Headers):
    """Request headers as Werkzeug shows them: any-case lookups, and str() as header lines."""

    def get(self, key, default=None, type=None):
        value = dict.get(self, key.lower(), default) if isinstance(key, str) else default
        return type(value) if type is not None and value is not None else value

    def __str__(self):
        lines = ("%s: %s\r\n" % ("-".join(p.capitalize() for p in k.split("-")), v)
                 for k, v in self.items())
        return "".join(lines) + "\r\n"


class _Request:
    """flask.request as a function sees it; each attribute reads the current call's request."""

    def _event(self):
        event = current_request.get()
        if event is None:
            raise RuntimeError("Working outside of request context.")
        return event

    @property
    def method(self):
        return self._event().method

    @property
    def path(self):
        return self._event().path

    @property
    def headers(self):
        return _FlaskHeaders(self._event().headers)

    @property
    def args(self):
        from .compat import QueryArgs

        return QueryArgs(self._event().query)

    @property
    def data(self):
        return self._event().raw_body

    def get_data(self, cache=True, as_text=False, parse_form_data=False):
        body = self._event().raw_body
        return body.decode("utf-8", "replace") if as_text else body

    @property
    def content_type(self):
        return self._event().headers.get("content-type")

    @property
    def mimetype(self):
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def is_json(self):
        mimetype = self.mimetype
        return mimetype == "application/json" or mimetype.endswith("+json")

    def get_json(self, force=False, silent=False, cache=True):
        if not (force or self.is_json):
            return None
        try:
            return json.loads(self._event().raw_body.decode("utf-8"))
        except ValueError as error:
            if silent:
                return None
            raise HTTPException(400, "Failed to decode JSON object") from error

    @property
    def json(self):
        return self.get_json()

    @property
    def form(self):
        from .compat import QueryArgs

        if self.mimetype != "application/x-www-form-urlencoded":
            return QueryArgs({})
        values = {}
        for key, value in parse_qsl(self.get_data(as_text=True), keep_blank_values=True):
            values.setdefault(key, []).append(value)
        return QueryArgs({k: v if len(v) > 1 else v[0] for k, v in values.items()})

    @property
    def values(self):
        merged = dict(self.form)
        merged.update(self.args)
        return merged


def jsonify(*args, **kwargs):
    value = args[0] if len(args) == 1 else (list(args) if args else kwargs)
    return Response(json.dumps(value), mimetype="application/json")


def make_response(*args):
    if len(args) == 1 and isinstance(args[0], Response):
        return args[0]
    from .compat import fission_result

    result = fission_result(args[0] if len(args) == 1 else tuple(args))
    return Response(result["body"], result["statusCode"], result["headers"])


def redirect(location, code=302):
    return Response("", code, {"Location": location})


def abort(code, description=None):
    raise HTTPException(code, description)


def install():
    """Makes `import flask` give this module's Flask surface."""
    module = types.ModuleType("flask")
    module.__doc__ = "Runlet's stand-in for the parts of Flask Fission handlers use."
    module.request = _Request()
    logger = logging.getLogger("flask.app")
    if not logger.handlers:
        # As Fission's environment logs at INFO, to the function's logs.
        logger.addHandler(logging.StreamHandler(sys.stderr))
        logger.setLevel(logging.INFO)
    module.current_app = types.SimpleNamespace(logger=logger)
    for name in ("Response", "jsonify", "make_response", "redirect", "abort"):
        setattr(module, name, globals()[name])
    sys.modules["flask"] = module
