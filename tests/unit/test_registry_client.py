"""The registry client's rules that need no registry: schemes, challenges, redirects."""

import http.server
import threading

import pytest

from dockyard.errors import Unavailable
from dockyard.registry import auth
from dockyard.registry.client import RegistryClient, is_local


def test_plain_http_only_for_this_machine_or_insecure_registries(monkeypatch):
    monkeypatch.delenv("DOCKYARD_OFFLINE", raising=False)
    monkeypatch.setenv("DOCKYARD_CONFIG", "/nonexistent")
    assert RegistryClient("localhost:5000").base == "http://localhost:5000"
    assert RegistryClient("127.0.0.1:5000").base == "http://127.0.0.1:5000"
    assert RegistryClient("[::1]:5000").base == "http://[::1]:5000"
    assert RegistryClient("ghcr.io").base == "https://ghcr.io"
    assert RegistryClient("docker.io").base == "https://registry-1.docker.io"
    monkeypatch.setenv("DOCKYARD_INSECURE_REGISTRIES", "registry.lan:5000")
    assert RegistryClient("registry.lan:5000").base == "http://registry.lan:5000"
    assert not is_local("localhost.example.com")


def test_insecure_registries_from_the_settings_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKYARD_OFFLINE", raising=False)
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"insecure-registries": ["10.0.0.5:5000"]}')
    monkeypatch.setenv("DOCKYARD_CONFIG", str(cfg))
    assert RegistryClient("10.0.0.5:5000").base == "http://10.0.0.5:5000"


def test_offline_refuses_remote_registries(monkeypatch):
    monkeypatch.setenv("DOCKYARD_OFFLINE", "1")
    with pytest.raises(Unavailable, match="DOCKYARD_OFFLINE"):
        RegistryClient("docker.io")
    RegistryClient("localhost:5000")


def test_challenge_parsing():
    scheme, params = auth.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull"}
    assert auth.parse_challenge('Basic realm="x y"') == ("basic", {"realm": "x y"})


def test_docker_hub_credentials_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth.store_credentials("docker.io", "u", "p")
    assert auth.get_credentials("docker.io") == ("u", "p")
    assert auth.get_credentials("index.docker.io") == ("u", "p")
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    assert auth.erase_credentials("docker.io") and auth.get_credentials("docker.io") is None


def test_blob_redirects_are_followed_without_credentials(monkeypatch):
    """Registries redirect blob downloads to object storage: follow, and never send
    the registry's Authorization header to the other host."""
    monkeypatch.delenv("DOCKYARD_OFFLINE", raising=False)
    seen = {}

    class Storage(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen["storage_auth"] = self.headers.get("Authorization")
            body = b"blob-bytes"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    storage = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Storage)

    class Registry(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen["registry_auth"] = self.headers.get("Authorization")
            if not self.headers.get("Authorization"):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="r"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.2:{storage.server_address[1]}/signed?x=1")
            self.send_header("Content-Length", "0")
            self.end_headers()

    registry = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    for s in (storage, registry):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        c = RegistryClient(f"127.0.0.1:{registry.server_address[1]}")
        c.use_credentials("u", "p")
        with c.get_blob("me/app", "sha256:" + "a" * 64) as r:
            assert r.read() == b"blob-bytes"
        assert seen["registry_auth"].startswith("Basic ") and seen["storage_auth"] is None
    finally:
        storage.shutdown()
        registry.shutdown()


def _tag_server(pages: dict[str, tuple[bytes, str]]):
    """A registry answering /v2/me/app/tags/list?... from `pages`: path -> (body, Link)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body, link = pages.get(self.path, (b'{"errors":[{"code":"NAME_UNKNOWN"}]}', ""))
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if link:
                self.send_header("Link", link)
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_tag_lists_follow_link_pages_and_refuse_bad_tags(monkeypatch):
    from dockyard.errors import NotFound
    from dockyard.registry.client import RegistryError

    monkeypatch.delenv("DOCKYARD_OFFLINE", raising=False)
    base = "/v2/me/app/tags/list"
    server = _tag_server({
        base: (b'{"name":"me/app","tags":["1","2"]}', f'<{base}?last=2&n=2>; rel="next"'),
        f"{base}?last=2&n=2": (b'{"name":"me/app","tags":["3"]}', ""),
        "/v2/me/bad/tags/list": (b'{"name":"me/bad","tags":["ok","../../etc"]}', ""),
        "/v2/me/loop/tags/list": (b'{"tags":["a"]}', '<http://example.com/v2/x>; rel="next"'),
        "/v2/me/empty/tags/list": (b'{"name":"me/empty","tags":null}', ""),
    })
    try:
        c = RegistryClient(f"127.0.0.1:{server.server_address[1]}")
        assert c.list_tags("me/app") == ["1", "2", "3"]
        assert c.list_tags("me/empty") == []
        with pytest.raises(RegistryError, match="malformed"):
            c.list_tags("me/bad")
        with pytest.raises(RegistryError, match="another host"):
            c.list_tags("me/loop")
        with pytest.raises(NotFound):
            c.list_tags("me/none")
    finally:
        server.shutdown()
