"""The part of Flask that Fission's Python handlers use (`from flask import request`), for
functions run with compat fission when Flask itself is not installed: Fission's Python
environment serves them with Flask and calls `main()` with no arguments, the request being
Flask's global `request`. Installed as the module `flask` before such a handler loads."""
import contextvars
import dataclasses
import datetime
import decimal
import email.utils
import html
import json
import logging
import os
import sys
import types
import uuid
from urllib.parse import parse_qsl

from .invoke import Headers

#: The request of the call the current thread or task serves.
current_request = contextvars.ContextVar("runlet_fission_request", default=None)
#: flask.g of that call: a fresh namespace per call.
current_globals = contextvars.ContextVar("runlet_fission_globals", default=None)


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
    def host(self):
        headers = self._event().headers
        return headers.get("x-forwarded-host") or headers.get("host") or "localhost"

    @property
    def scheme(self):
        return self._event().headers.get("x-forwarded-proto", "http")

    @property
    def query_string(self):
        return (self._event().query_string or "").encode("latin-1")

    @property
    def full_path(self):
        return "%s?%s" % (self.path, self.query_string.decode("latin-1"))

    @property
    def base_url(self):
        return "%s://%s%s" % (self.scheme, self.host, self.path)

    @property
    def url(self):
        query = self.query_string.decode("latin-1")
        return self.base_url + ("?" + query if query else "")

    @property
    def remote_addr(self):
        forwarded = self._event().headers.get("x-forwarded-for", "")
        return forwarded.split(",")[0].strip() or None

    @property
    def cookies(self):
        from http.cookies import SimpleCookie

        jar = SimpleCookie()
        jar.load(self._event().headers.get("cookie", ""))
        return {name: morsel.value for name, morsel in jar.items()}

    @property
    def content_length(self):
        return len(self._event().raw_body)

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


def json_default(value):
    """What Flask's JSON provider writes for values json cannot: dates as HTTP dates (RFC
    822, in GMT), decimals and UUIDs as text, dataclasses as objects, __html__ as its markup."""
    if isinstance(value, datetime.date):
        if not isinstance(value, datetime.datetime):
            value = datetime.datetime(value.year, value.month, value.day)
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return email.utils.format_datetime(value.astimezone(datetime.timezone.utc), usegmt=True)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def dumps(value):
    return json.dumps(value, default=json_default)


def jsonify(*args, **kwargs):
    value = args[0] if len(args) == 1 else (list(args) if args else kwargs)
    return Response(dumps(value), mimetype="application/json")


class Flask:
    """An app object as a Flask program makes one (`app = Flask(__name__)`). Under Fission the
    environment's own app serves the call and `main()` is called whatever its route, so the
    decorators only hand the view back; `run()` does nothing."""

    def __init__(self, import_name, static_url_path=None, static_folder="static",
                 template_folder="templates", **options):
        self.import_name = import_name
        self.static_url_path = static_url_path
        self.static_folder = static_folder
        self.template_folder = template_folder
        self.config = dict(options.get("config", {}))
        self.logger = logging.getLogger("flask.app")

    def route(self, rule, **options):
        return lambda view: view

    def get(self, rule, **options):
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule, **options):
        return self.route(rule, methods=["POST"], **options)

    def errorhandler(self, code_or_exception):
        return lambda handler: handler

    def before_request(self, fn):
        return fn

    def after_request(self, fn):
        return fn

    def run(self, *args, **kwargs):
        return None


#: Fission's environment app: what `current_app` is while a function runs.
_environment_app = Flask("fission")


def escape(text):
    """flask.escape (markupsafe's): text with &, <, >, " and ' made safe for HTML."""
    try:
        from markupsafe import escape as markup_escape

        return markup_escape(text)
    except ImportError:
        return html.escape(str(text), quote=True)


def _jinja_environment():
    try:
        import jinja2
    except ImportError as error:
        raise RuntimeError(
            "render_template needs Jinja2, which Flask brings: add jinja2 to requirements.txt"
        ) from error
    folder = _environment_app.template_folder or "templates"
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.getcwd(), folder)),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml"]),
    )


def render_template(template_name_or_list, **context):
    """Renders a template of the app's template folder (`templates/` of the package, or what
    the function sets as `current_app.template_folder`) with Jinja2, as Flask does."""
    environment = _jinja_environment()
    template = environment.get_or_select_template(template_name_or_list)
    return template.render(request=_Request(), g=g, **context)


def render_template_string(source, **context):
    return _jinja_environment().from_string(source).render(request=_Request(), g=g, **context)


class _RequestGlobals:
    """flask.g: a namespace of the current call's, empty at each call's start."""

    def _store(self):
        store = current_globals.get()
        if store is None:
            raise RuntimeError("Working outside of application context.")
        return store

    def __getattr__(self, name):
        try:
            return self._store()[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self._store()[name] = value

    def get(self, name, default=None):
        return self._store().get(name, default)


g = _RequestGlobals()


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
    module.current_app = _environment_app
    module.g = g
    module.json = types.SimpleNamespace(dumps=dumps, loads=json.loads)
    for name in ("Response", "jsonify", "make_response", "redirect", "abort", "Flask",
                 "escape", "render_template", "render_template_string"):
        setattr(module, name, globals()[name])
    sys.modules["flask"] = module
