"""Registry credentials and authentication, as the docker CLI keeps and uses them.

Credentials live in `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`):
`auths` maps a registry to base64 "user:password"; `credsStore` names a credential
helper for all registries and `credHelpers` one per registry
(`docker-credential-<name> get|store|erase`). Docker Hub's key is
`https://index.docker.io/v1/`.

Authentication answers the registry's challenge (`WWW-Authenticate`): `Basic`
sends the credentials; `Bearer realm=...,service=...,scope=...` fetches a token
from the realm (with the credentials, if any) and sends that.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse

from ..errors import DockyardError, InvalidArgument, Unauthorized

DOCKER_HUB_KEY = "https://index.docker.io/v1/"


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def server_key(domain: str) -> str:
    return DOCKER_HUB_KEY if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


def _load() -> dict:
    try:
        with open(config_path()) as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else {}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"{config_path()}: {e}") from None


def _save(doc: dict) -> None:
    from ..core.files import atomic_write

    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic_write(path, json.dumps(doc, indent="\t") + "\n", mode=0o600)


def _helper(doc: dict, key: str) -> str | None:
    helpers = doc.get("credHelpers") or {}
    return helpers.get(key) or helpers.get(key.replace("https://", "")) or doc.get("credsStore") or None


def _run_helper(name: str, action: str, data: str) -> str:
    import subprocess

    try:
        p = subprocess.run([f"docker-credential-{name}", action], input=data, capture_output=True,
                           text=True, timeout=60)
    except FileNotFoundError:
        raise DockyardError(f"credential helper docker-credential-{name} is not installed") from None
    if p.returncode != 0:
        out = (p.stdout or p.stderr).strip()
        if action == "get" and "credentials not found" in out.lower():
            return ""
        raise DockyardError(f"credential helper {name}: {out or 'failed'}")
    return p.stdout


def get_credentials(domain: str) -> tuple[str, str] | None:
    doc = _load()
    key = server_key(domain)
    helper = _helper(doc, key)
    if helper:
        out = _run_helper(helper, "get", key)
        if out.strip():
            creds = json.loads(out)
            return creds.get("Username", ""), creds.get("Secret", "")
    auths = doc.get("auths") or {}
    entry = auths.get(key) or auths.get("https://" + key) or auths.get("http://" + key)
    if not entry:
        return None
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(f"{config_path()}: invalid auth entry for {key}") from None
        return user, password
    if entry.get("username"):
        return entry["username"], entry.get("password", "")
    return None


def store_credentials(domain: str, user: str, password: str) -> None:
    doc = _load()
    key = server_key(domain)
    helper = _helper(doc, key)
    if helper:
        _run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": password}))
        doc.setdefault("auths", {}).setdefault(key, {})
    else:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        doc.setdefault("auths", {})[key] = {"auth": token}
    _save(doc)


def erase_credentials(domain: str) -> bool:
    doc = _load()
    key = server_key(domain)
    helper = _helper(doc, key)
    found = False
    if helper:
        try:
            _run_helper(helper, "erase", key)
            found = True
        except DockyardError:
            pass
    auths = doc.get("auths") or {}
    if key in auths:
        del auths[key]
        found = True
        _save(doc)
    return found


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="x",service="y"` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " ,":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            j = i + 1
            value = []
            while j < n and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(rest[j])
                j += 1
            params[key] = "".join(value)
            i = j + 1
        else:
            j = rest.find(",", i)
            j = n if j < 0 else j
            params[key] = rest[i:j].strip()
            i = j
    return scheme.lower(), params


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def fetch_token(transport, params: dict[str, str], scopes: list[str],
                creds: tuple[str, str] | None) -> str:
    """A bearer token from the challenge's realm (the docker token protocol, GET)."""
    from ..errors import Unavailable

    realm = params.get("realm")
    if not realm:
        raise Unavailable("registry asked for a bearer token without saying where to get one")
    query = []
    if params.get("service"):
        query.append(("service", params["service"]))
    for s in scopes:
        query.append(("scope", s))
    if creds:
        query.append(("account", creds[0]))
    url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
    headers = {"Authorization": basic_header(*creds)} if creds else {}
    with transport.request("GET", url, headers) as r:
        body = r.read(1 << 20)
        if r.status == 401 or r.status == 403:
            raise Unauthorized("unauthorized: incorrect username or password" if creds
                               else "unauthorized: authentication required")
        if r.status != 200:
            raise Unavailable(f"token server {realm} answered {r.status}")
    try:
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
    except ValueError:
        token = None
    if not token:
        raise Unavailable(f"token server {realm} sent no token")
    return token
