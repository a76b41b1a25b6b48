"""A client for the OCI distribution API (`/v2/`), as Docker Hub and other registries
serve it: manifests, blobs, uploads, cross-repository mounts, with the auth dance.

HTTPS by default; plain HTTP only for registries on this machine (localhost,
127.0.0.0/8, ::1) or named as insecure (`insecure-registries` in
/etc/dockyard/daemon.json, or DOCKYARD_INSECURE_REGISTRIES=host:port,...).
DOCKYARD_OFFLINE=1 refuses every registry that is not on this machine.
"""

from __future__ import annotations

import os

from ..core.jsonenc import loads
from ..errors import DockyardError, InvalidImage, NotFound, Unauthorized, Unavailable
from ..oci import mediatypes
from .transport import HTTPTransport, Response

DOCKER_HUB_HOST = "registry-1.docker.io"
MAX_MANIFEST = 4 << 20
MAX_TAG_PAGES = 1000
MANIFEST_TYPES = (mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST, mediatypes.OCI_MANIFEST,
                  mediatypes.DOCKER_MANIFEST)
SETTINGS_FILE = "/etc/dockyard/daemon.json"


def _host_part(domain: str) -> str:
    if domain.startswith("["):
        return domain[1:domain.find("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain


def is_local(domain: str) -> bool:
    host = _host_part(domain)
    return host in ("localhost", "::1") or host.startswith("127.")


def _settings() -> dict:
    path = os.environ.get("DOCKYARD_CONFIG") or SETTINGS_FILE
    try:
        with open(path, "rb") as f:
            doc = loads(f.read())
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def insecure_registries() -> set[str]:
    names = set(_settings().get("insecure-registries") or [])
    env = os.environ.get("DOCKYARD_INSECURE_REGISTRIES", "")
    names.update(n.strip() for n in env.split(",") if n.strip())
    return names


class RegistryError(DockyardError):
    """An error the registry reported in its JSON error body."""


def _next_link(header: str) -> str | None:
    """The target of `Link: <...>; rel="next"` (RFC 8288), as registries page lists."""
    for part in header.split(","):
        target, _, params = part.strip().partition(">")
        if target.startswith("<") and any(p.strip().replace(" ", "") in ('rel="next"', "rel=next")
                                          for p in params.split(";")):
            return target[1:]
    return None


def _repository_unknown(repo: str) -> NotFound:
    return NotFound(f"pull access denied for {repo}, repository does not exist or may require 'dockyard login'")


def _error_message(r: Response) -> str:
    try:
        doc = loads(r.read(1 << 16) or b"{}")
        errs = doc.get("errors") or []
        if errs:
            e = errs[0]
            return f"{str(e.get('code', '')).lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        pass
    return f"HTTP {r.status}"


class RegistryClient:
    def __init__(self, domain: str, transport=None) -> None:
        self.domain = domain
        if os.environ.get("DOCKYARD_OFFLINE") and not is_local(domain):
            raise Unavailable(f"not contacting {domain}: DOCKYARD_OFFLINE is set and it is not on this machine")
        host = DOCKER_HUB_HOST if domain == "docker.io" else domain
        plain = is_local(domain) or domain in insecure_registries()
        self.base = f"{'http' if plain else 'https'}://{host}"
        self.transport = transport or HTTPTransport()
        self._auth: dict[str, str] = {}
        self._creds: tuple[str, str] | None | bool = False

    # ---- authentication -------------------------------------------------------

    def credentials(self) -> tuple[str, str] | None:
        if self._creds is False:
            from . import auth

            self._creds = auth.get_credentials(self.domain)
        return self._creds  # type: ignore[return-value]

    def use_credentials(self, user: str, password: str) -> None:
        self._creds = (user, password)
        self._auth.clear()

    def _authenticate(self, challenge: str | None, scopes: list[str]) -> str:
        from . import auth  # only when a registry asks: base64, urllib

        if not challenge:
            raise Unauthorized(f"{self.domain}: unauthorized: authentication required")
        scheme, params = auth.parse_challenge(challenge)
        creds = self.credentials()
        if scheme == "basic":
            if not creds:
                raise Unauthorized(f"{self.domain}: unauthorized: authentication required")
            return auth.basic_header(*creds)
        if scheme == "bearer":
            return "Bearer " + auth.fetch_token(self.transport, params, scopes, creds)
        raise Unavailable(f"{self.domain} asks for {scheme} authentication, which Dockyard does not speak")

    def request(self, method: str, path: str, scopes: list[str], headers: dict | None = None,
                body=None, length: int | None = None, retry: bool = True, meanwhile=None) -> Response:
        """One request, authenticated on the registry's challenge and retried once;
        `meanwhile` runs once the request is sent (see HTTPTransport.request)."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        key = " ".join(scopes)
        h = dict(headers or {})
        if key in self._auth:
            h["Authorization"] = self._auth[key]
        r = self.transport.request(method, url, h, body, length, meanwhile=meanwhile)
        if r.status == 401 and retry:
            challenge = r.headers.get("www-authenticate")
            r.read()
            r.close()
            self._auth[key] = self._authenticate(challenge, scopes)
            h["Authorization"] = self._auth[key]
            r = self.transport.request(method, url, h, body, length)
        if r.status == 401:
            msg = _error_message(r)
            r.close()
            raise Unauthorized(f"{self.domain}: {msg if 'unauthorized' in msg else 'unauthorized: ' + msg}")
        return r

    def ping(self) -> None:
        """GET /v2/: checks that the registry is there and takes our credentials."""
        with self.request("GET", "/v2/", []) as r:
            if r.status != 200:
                raise Unavailable(f"{self.domain} does not speak the registry API (HTTP {r.status})")

    # ---- reading --------------------------------------------------------------

    def get_manifest(self, repo: str, reference: str, meanwhile=None) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index, by tag or digest."""
        scope = [f"repository:{repo}:pull"]
        with self.request("GET", f"/v2/{repo}/manifests/{reference}", scope,
                          {"Accept": ", ".join(MANIFEST_TYPES)}, meanwhile=meanwhile) as r:
            if r.status == 404:
                msg = _error_message(r)
                if "name unknown" in msg:
                    raise _repository_unknown(repo)
                raise NotFound(f"manifest for {repo}:{reference} not found: manifest unknown")
            if r.status != 200:
                raise RegistryError(f"{self.domain}: fetching manifest {repo}:{reference}: {_error_message(r)}")
            data = r.read(MAX_MANIFEST + 1)
            if len(data) > MAX_MANIFEST:
                raise InvalidImage(f"manifest {repo}:{reference} is larger than {MAX_MANIFEST} bytes")
            media_type = (r.headers.get("content-type") or "").split(";")[0].strip()
        from ..oci.digest import of_bytes  # hashlib: loaded while the registry answered

        digest = of_bytes(data)
        if reference.startswith("sha256:") and digest != reference:
            raise InvalidImage(f"manifest {repo}@{reference} does not match its digest (got {digest})")
        try:
            doc = loads(data)
        except ValueError:
            raise InvalidImage(f"manifest {repo}:{reference} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise InvalidImage(f"manifest {repo}:{reference} is not a JSON object")
        media_type = doc.get("mediaType") or media_type
        if doc.get("schemaVersion") == 1 or media_type.startswith("application/vnd.docker.distribution.manifest.v1"):
            raise InvalidImage(f"{repo}:{reference} uses the retired Docker image manifest v1; "
                               "Dockyard reads only v2 and OCI manifests")
        if media_type not in MANIFEST_TYPES:
            media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
        return data, media_type, digest

    def list_tags(self, repo: str) -> list[str]:
        """Every tag of `repo` (GET /v2/<name>/tags/list, following `Link: rel="next"`
        pages); what the registry sends is checked like a tag the user typed."""
        from ..oci.reference import valid_tag

        tags: list[str] = []
        path = f"/v2/{repo}/tags/list"
        for _ in range(MAX_TAG_PAGES):
            with self.request("GET", path, [f"repository:{repo}:pull"]) as r:
                if r.status == 404:
                    raise _repository_unknown(repo)
                if r.status != 200:
                    raise RegistryError(f"{self.domain}: listing the tags of {repo}: {_error_message(r)}")
                data = r.read(MAX_MANIFEST + 1)
                link = r.headers.get("link", "")
            try:
                page = loads(data) if len(data) <= MAX_MANIFEST else None
            except ValueError:
                page = None
            names = page.get("tags", False) if isinstance(page, dict) else False
            if names is None:
                names = []  # a repository without tags: "tags": null
            if not isinstance(names, list) or not all(isinstance(t, str) and valid_tag(t) for t in names):
                raise RegistryError(f"{self.domain}: the tag list of {repo} is malformed")
            tags += [t for t in names if t not in tags]
            nxt = _next_link(link)
            if nxt is None:
                return tags
            if nxt.startswith(self.base + "/"):
                nxt = nxt[len(self.base):]
            if not nxt.startswith("/v2/"):
                raise RegistryError(f"{self.domain}: the tag list of {repo} links to another host")
            path = nxt
        raise RegistryError(f"{self.domain}: the tag list of {repo} has more than {MAX_TAG_PAGES} pages")

    def get_blob(self, repo: str, digest: str, meanwhile=None) -> Response:
        r = self.request("GET", f"/v2/{repo}/blobs/{digest}", [f"repository:{repo}:pull"], meanwhile=meanwhile)
        if r.status != 200:
            msg = _error_message(r)
            r.close()
            if r.status == 404:
                raise NotFound(f"blob {digest} of {repo} not found: {msg}")
            raise RegistryError(f"{self.domain}: fetching blob {digest}: {msg}")
        return r

    # ---- writing --------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str) -> bool:
        with self.request("HEAD", f"/v2/{repo}/blobs/{digest}", [f"repository:{repo}:pull,push"]) as r:
            return r.status == 200

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Ask the registry to link a blob it has in another repository (no upload)."""
        scopes = [f"repository:{repo}:pull,push", f"repository:{from_repo}:pull"]
        with self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={from_repo}", scopes) as r:
            r.read()
            return r.status == 201

    def upload_blob(self, repo: str, digest: str, fileobj, size: int) -> None:
        scope = [f"repository:{repo}:pull,push"]
        with self.request("POST", f"/v2/{repo}/blobs/uploads/", scope) as r:
            r.read()
            if r.status not in (201, 202) or "location" not in r.headers:
                raise RegistryError(f"{self.domain}: starting an upload to {repo}: HTTP {r.status}")
            location = r.headers["location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        with self.request("PUT", f"{location}{sep}digest={digest}", scope,
                          {"Content-Type": "application/octet-stream"}, body=fileobj, length=size,
                          retry=False) as r:
            if r.status != 201:
                raise RegistryError(f"{self.domain}: uploading {digest} to {repo}: {_error_message(r)}")
            r.read()

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        from ..oci.digest import of_bytes

        scope = [f"repository:{repo}:pull,push"]
        with self.request("PUT", f"/v2/{repo}/manifests/{reference}", scope, {"Content-Type": media_type},
                          body=data, length=len(data)) as r:
            if r.status not in (200, 201):
                raise RegistryError(f"{self.domain}: pushing manifest {repo}:{reference}: {_error_message(r)}")
            r.read()
            return r.headers.get("docker-content-digest") or of_bytes(data)
