"""The part of specialize the runtime does for itself when the platform is elsewhere (a pod,
docs/runtime-protocol.md "Fetching the package"): fetch the package archive with the grant the
request carries, check its sha256 digest, unpack it safely into packagePath, and write the
secret and config files the request carries (base64) as 0400 files: secretFiles by key into
secretsDir, fissionFiles (secrets/<ns>/<name>/<key>, configs/...) under fissionDir. The same rules as
runtimes/shared/tar-reader.mjs: no absolute names, no "..", no hard links, devices or FIFOs, no
link that resolves outside the package, nothing written beneath a link, links made last, and
size and entry limits. Standard library only."""
import base64
import hashlib
import json
import os
import re
import shutil
import tarfile
import urllib.error
import urllib.request

DEFAULTS = {
    "archive_bytes": 256 * 1024 * 1024,
    "unpacked_bytes": 256 * 1024 * 1024,
    "entries": 20000,
    "timeout_s": 60,
}
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}"
FISSION_PATH = re.compile(r"^(secrets|configs)/%s/%s/%s$" % (_PART, _PART, _PART))


class PackageRefused(Exception):
    """The package cannot be placed: what is wrong, for the specialize answer."""


def place_files(request):
    if request.get("package"):
        _fetch_package(request["package"], request.get("packagePath"))
    secret_files = request.get("secretFiles")
    if isinstance(secret_files, dict):
        _write_files(secret_files, request.get("secretsDir"), SECRET_NAME)
    fission_files = request.get("fissionFiles")
    if isinstance(fission_files, dict):
        _write_files(fission_files, request.get("fissionDir"), FISSION_PATH)


def _positive(value, fallback):
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else fallback


def _fetch_package(source, package_path):
    url, token, digest = source.get("url"), source.get("token"), str(source.get("digest"))
    match = re.match(r"^sha256:([a-f0-9]{64})$", digest)
    if not isinstance(url, str) or not isinstance(token, str) or not match:
        raise PackageRefused("the package to fetch needs url, token and a sha256 digest")
    if not isinstance(package_path, str) or not package_path:
        raise PackageRefused("the package to fetch needs a packagePath to unpack into")
    limits = {
        "archive_bytes": _positive(source.get("maxArchiveBytes"), DEFAULTS["archive_bytes"]),
        "unpacked_bytes": _positive(source.get("maxUnpackedBytes"), DEFAULTS["unpacked_bytes"]),
        "entries": _positive(source.get("maxEntries"), DEFAULTS["entries"]),
    }
    parent = os.path.dirname(package_path.rstrip("/")) or "/"
    os.makedirs(parent, exist_ok=True)
    archive = os.path.join(parent, ".package.tar.gz")
    try:
        actual = _download(url, token, archive, limits["archive_bytes"])
        if actual != match.group(1):
            raise PackageRefused(
                "the fetched package's digest is sha256:%s, not the %s asked for" % (actual, digest)
            )
        try:
            _unpack(archive, package_path, limits)
        except PackageRefused:
            shutil.rmtree(package_path, ignore_errors=True)
            raise
        except (OSError, tarfile.TarError, EOFError) as error:
            shutil.rmtree(package_path, ignore_errors=True)
            raise PackageRefused("the package could not be unpacked: %s" % error) from error
    finally:
        try:
            os.unlink(archive)
        except FileNotFoundError:
            pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _download(url, token, path, max_bytes):
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    opener = urllib.request.build_opener(_NoRedirects())
    try:
        response = opener.open(request, timeout=DEFAULTS["timeout_s"])
    except urllib.error.HTTPError as error:
        body = error.read(300).decode("utf-8", "replace")
        try:
            body = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise PackageRefused("fetching the package answered %d: %s" % (error.code, body)) from None
    except (urllib.error.URLError, OSError) as error:
        raise PackageRefused("the package could not be fetched from %s: %s" % (url, error)) from None
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with response, os.fdopen(fd, "wb") as out:
        while True:
            chunk = response.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise PackageRefused(
                    "the package archive is larger than %d bytes, the limit of this instance" % max_bytes
                )
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _segments(name):
    if name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name):
        raise PackageRefused("entry %s has an absolute path" % json.dumps(name))
    if "\0" in name:
        raise PackageRefused("entry %s has a NUL in its name" % json.dumps(name))
    segments = [s for s in name.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise PackageRefused("entry %s leaves the package (..)" % json.dumps(name))
    return segments


def _resolve_link(links, link_segments, target, depth=0):
    where = "/".join(link_segments)
    if depth > 32:
        raise PackageRefused("link %s is part of a cycle of links" % where)
    if target.startswith("/"):
        raise PackageRefused("link %s points to an absolute path (%s)" % (where, json.dumps(target)))
    resolved = list(link_segments[:-1])
    for segment in target.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not resolved:
                raise PackageRefused(
                    "link %s points outside the package (%s)" % (where, json.dumps(target))
                )
            resolved.pop()
            continue
        resolved.append(segment)
        through = links.get("/".join(resolved))
        if through is not None:
            resolved = _resolve_link(links, list(resolved), through, depth + 1)
    return resolved


def _unpack(archive, directory, limits):
    os.makedirs(directory, exist_ok=True)
    links = {}
    written = set()
    unpacked = 0
    entries = 0
    with tarfile.open(archive, mode="r:gz") as tar:
        for member in tar:
            entries += 1
            if entries > limits["entries"]:
                raise PackageRefused("the package has more than %d entries" % limits["entries"])
            segments = _segments(member.name)
            path = "/".join(segments)
            for i in range(1, len(segments) + 1):
                ancestor = "/".join(segments[:i])
                if ancestor in links:
                    raise PackageRefused(
                        "entry %s goes through the link %s" % (json.dumps(member.name), ancestor)
                    )
            target = os.path.join(directory, *segments) if segments else directory
            if member.isreg():
                unpacked += member.size
                if unpacked > limits["unpacked_bytes"]:
                    raise PackageRefused(
                        "the package unpacks to more than %d bytes, the limit of this instance"
                        % limits["unpacked_bytes"]
                    )
                if not segments:
                    raise PackageRefused("the package has a file entry without a name")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                mode = 0o755 if member.mode & 0o111 else 0o644
                # O_EXCL | O_NOFOLLOW: an entry never replaces or writes through what is there.
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
                source = tar.extractfile(member)
                with os.fdopen(fd, "wb") as out:
                    if source is not None:
                        shutil.copyfileobj(source, out, 64 * 1024)
                written.add(path)
            elif member.isdir():
                os.makedirs(target, exist_ok=True)
            elif member.issym():
                if not segments or path in written:
                    raise PackageRefused("link %s would replace another entry" % json.dumps(member.name))
                links[path] = member.linkname
            elif member.islnk():
                raise PackageRefused(
                    "entry %s is a hard link, which packages may not have" % json.dumps(member.name)
                )
            elif member.isdev() or member.isfifo():
                raise PackageRefused(
                    "entry %s is a %s, which packages may not have"
                    % (json.dumps(member.name), "FIFO" if member.isfifo() else "device file")
                )
            else:
                raise PackageRefused("entry %s has an unknown type" % json.dumps(member.name))
    for path, target in links.items():
        _resolve_link(links, path.split("/"), target)
    for path, target in links.items():
        at = os.path.join(directory, *path.split("/"))
        os.makedirs(os.path.dirname(at), exist_ok=True)
        os.symlink(target, at)


def _write_files(files, root, valid):
    if not isinstance(root, str) or not root:
        raise PackageRefused("secret and config files need a folder to be written into")
    for path, value in files.items():
        if not valid.match(str(path)) or not isinstance(value, str):
            raise PackageRefused("secret file %s is not a valid secret name and value" % json.dumps(path))
        target = os.path.join(root, *path.split("/"))
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64decode(value, validate=True))
