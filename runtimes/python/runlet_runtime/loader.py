"""Loads a function's handler at specialize: the package on sys.path (with its vendored
dependencies), the handler module imported, and the function found; a failure says which
file and line, with the same codes as the Node runtime."""
import importlib
import importlib.machinery
import importlib.util
import os
import site
import sys
import traceback

#: Directories inside a package that hold its dependencies (pip install --target).
DEPENDENCY_DIRS = (os.path.join(".runlet", "python"), "python_packages")
#: Function names tried in order when the handler names none.
DEFAULT_NAMES = ("handle", "handler", "main")


class LoadError(Exception):
    def __init__(self, code, message, file=None, line=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.file = file
        self.line = line

    def to_json(self):
        error = {"code": self.code, "message": self.message}
        if self.file is not None:
            error["file"] = self.file
        if self.line is not None:
            error["line"] = self.line
        return {"error": error}


def add_package_to_path(root):
    """The package's own modules first, then its vendored dependencies, then the system's."""
    entries = [root] + [
        os.path.join(root, name)
        for name in DEPENDENCY_DIRS
        if os.path.isdir(os.path.join(root, name))
    ]
    for index, entry in enumerate(entries):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(index, entry)
    for entry in entries[1:]:
        # Already on the path, so this only processes the .pth files pip may have put there.
        site.addsitedir(entry)
    importlib.invalidate_caches()


def split_handler(root, handler):
    """"handler.py", "handler.py:name", "pkg/handler.py", or "module.function" (Fission and
    Kubeless style) → (relative file, function name or None)."""
    file, colon, name = handler.rpartition(":")
    if not colon:
        file, name = handler, ""
    if (
        not name
        and not file.endswith(".py")
        and "." in file
        and not os.path.exists(os.path.join(root, file))
    ):
        module, _, name = file.rpartition(".")
        file = module.replace(".", "/") + ".py"
    return file, name or None


def load_handler(root, handler):
    """Imports the handler's module and returns (function, relative file)."""
    root = os.path.abspath(root)
    file, name = split_handler(root, handler)
    path = os.path.normpath(os.path.join(root, file))
    if path != root and not path.startswith(root + os.sep):
        raise LoadError("RUNLET_HANDLER_NOT_FOUND", "handler %s is outside the package" % file)
    if not os.path.isfile(path):
        raise LoadError(
            "RUNLET_HANDLER_NOT_FOUND",
            "handler file %s does not exist in the function's source; set --handler to the "
            "file that defines the function (default handler.py)" % file,
            file=file,
        )
    add_package_to_path(root)
    here = os.path.dirname(path)
    if here != root and here not in sys.path:
        sys.path.insert(1, here)
    try:
        with open(path, "rb") as source_file:
            source = source_file.read()
        # Compiled before anything runs: a syntax error names its line and nothing half-loads.
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise _syntax_error(error, root, file) from error
    module = _new_module(root, path)
    try:
        exec(code, module.__dict__)
    except SyntaxError as error:
        # In a module the handler imports.
        raise _syntax_error(error, root, file) from error
    except BaseException as error:  # noqa: B902 — SystemExit at import is a load failure too
        raise _load_failure(error, root, file) from error
    names = (name,) if name else DEFAULT_NAMES
    for candidate in names:
        fn = getattr(module, candidate, None)
        if callable(fn):
            return fn, file
    if name:
        wanted = "a function named %s" % name
    else:
        wanted = "a function named handle"
    raise LoadError(
        "RUNLET_HANDLER_NO_EXPORT",
        "%s has no %s; write `def handle(event, context): ...` (or `async def`)" % (file, wanted),
        file=file,
    )


def _package_name(root):
    # OpenFaaS imports a handler as function.handler, so its relative and
    # `from function import …` imports work here too, unless the package has its own `function`.
    if os.path.exists(os.path.join(root, "function")) or os.path.exists(
        os.path.join(root, "function.py")
    ):
        return "runlet_function"
    return "function"


def _new_module(root, path):
    """The handler's module, as a submodule of a package whose directory is the function's."""
    package = _package_name(root)
    relative = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
    if relative[-1] == "__init__":
        relative = relative[:-1]
    if not all(part.isidentifier() for part in relative) or not relative:
        name = "runlet_handler"
    else:
        name = ".".join([package] + relative)
        if package not in sys.modules:
            init = os.path.join(root, "__init__.py")
            if os.path.isfile(init):
                spec = importlib.util.spec_from_file_location(
                    package, init, submodule_search_locations=[root]
                )
                parent = importlib.util.module_from_spec(spec)
                sys.modules[package] = parent
                spec.loader.exec_module(parent)
            else:
                spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
                spec.submodule_search_locations = [root]
                sys.modules[package] = importlib.util.module_from_spec(spec)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    return module


def _relative(root, filename):
    if not filename:
        return None
    filename = os.path.abspath(filename)
    if filename.startswith(root + os.sep):
        return os.path.relpath(filename, root)
    return None


def _syntax_error(error, root, handler_file):
    file = _relative(root, error.filename) or handler_file
    line = error.lineno
    kind = type(error).__name__
    where = "%s:%d" % (file, line) if line else file
    return LoadError(
        "RUNLET_HANDLER_SYNTAX", "%s: %s: %s" % (where, kind, error.msg), file=file, line=line
    )


def _load_failure(error, root, handler_file):
    file, line = handler_file, None
    # The deepest frame inside the package is where the function's own code failed.
    for frame in traceback.extract_tb(error.__traceback__):
        relative = _relative(root, frame.filename)
        if relative is not None:
            file, line = relative, frame.lineno
    where = "%s:%d" % (file, line) if line else file
    detail = str(error)
    message = "%s: loading the handler raised %s%s" % (
        where,
        type(error).__name__,
        ": " + detail if detail else "",
    )
    if isinstance(error, ModuleNotFoundError):
        message += (
            "; ship the module with the function (pip install --target .runlet/python, "
            "see docs/python.md) or remove the import"
        )
    return LoadError("RUNLET_HANDLER_LOAD_FAILED", message, file=file, line=line)
