"""Registries, against a real registry server (Debian's docker-registry, the CNCF
distribution registry) started here on 127.0.0.1: plain, with htpasswd basic auth,
and with token auth from a small token server these tests run. Nothing leaves the
machine: the store runs with DOCKYARD_OFFLINE=1, which refuses remote registries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REGISTRY = shutil.which("docker-registry") or shutil.which("registry")
pytestmark = pytest.mark.skipif(REGISTRY is None, reason="Debian's docker-registry is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, base, auth_yaml: str = "") -> None:
        os.makedirs(base, exist_ok=True)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.data = os.path.join(base, "data")
        self.config = os.path.join(base, "config.yml")
        with open(self.config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {self.data}\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n{auth_yaml}")
        self.log = open(os.path.join(base, "registry.log"), "w")
        self.proc = subprocess.Popen([REGISTRY, "serve", self.config], stdout=self.log, stderr=self.log)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the registry did not start")

    def blob_path(self, digest: str) -> str:
        hexd = digest[7:]
        return os.path.join(self.data, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def put(self, path: str, data: bytes, content_type: str) -> None:
        req = urllib.request.Request(f"http://{self.host}{path}", data=data, method="PUT",
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req) as r:
            assert r.status == 201

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def registry(tmp_path):
    r = Registry(str(tmp_path / "registry"))
    yield r
    r.stop()


@pytest.fixture
def dcfg(fresh_dy, tmp_path):
    """A private docker config for credentials."""
    fresh_dy.env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    return fresh_dy


def _second_store(tmp_path, name="other"):
    from conftest import Dockyard

    d = Dockyard(str(tmp_path / name))
    return d


def test_push_then_pull_into_a_fresh_store_and_run(dcfg, registry, tmp_path):
    d = dcfg
    ref = f"{registry.host}/me/app:1"
    d.ok("run", "--rm", "busybox", "true")
    d.ok("tag", "busybox", ref)
    out = d.ok("push", ref)
    assert f"The push refers to repository [{registry.host}/me/app]" in out
    assert ": Pushed" in out and out.strip().splitlines()[-1].startswith("1: digest: sha256:")
    again = d.ok("push", ref)
    assert "Layer already exists" in again and ": Pushed" not in again
    other = _second_store(tmp_path)
    try:
        out = other.ok("pull", ref)
        assert out.splitlines()[0] == "1: Pulling from me/app"
        assert "Pull complete" in out and f"Status: Downloaded newer image for {ref}" in out
        assert out.strip().splitlines()[-1] == ref
        assert other.ok("run", "--rm", ref, "echo", "pulled") == "pulled\n"
        assert other.ok("inspect", "-f", "{{.Id}}", ref) == d.ok("inspect", "-f", "{{.Id}}", "busybox")
        assert "Image is up to date" in other.ok("pull", ref)
        digest = out.split("Digest: ")[1].split()[0]
        assert f"{registry.host}/me/app@{digest}" in other.ok("inspect", "-f", "{{json .RepoDigests}}", ref)
        assert digest in other.ok("images", "--digests")
    finally:
        other.cleanup()


def test_a_pulled_image_keeps_no_layer_blob_and_still_saves_and_pushes(dcfg, registry, tmp_path):
    """As in Docker, a pulled layer is kept unpacked only (with its tar-split): the
    store holds no compressed blob for it, and `save` and `push` to a registry that
    lacks it rebuild its exact tar from the files (the DiffIDs stay the same)."""
    d = dcfg
    ref = f"{registry.host}/me/app:1"
    d.ok("run", "--rm", "busybox", "true")
    d.ok("tag", "busybox", ref)
    d.ok("push", ref)
    diff_ids = d.ok("inspect", "-f", "{{json .RootFS.Layers}}", "busybox")
    other, third = _second_store(tmp_path), _second_store(tmp_path, "third")
    elsewhere = Registry(str(tmp_path / "registry2"))
    try:
        other.ok("pull", ref)
        config = other.ok("inspect", "-f", "{{.Id}}", ref).strip()
        kept = os.listdir(os.path.join(other.root, "blobs", "sha256"))
        assert len(kept) == 2 and config[7:] in kept  # the config and the manifest, no layer
        # save: the layers come out as tars named by their DiffIDs, and load again
        other.ok("save", "-o", str(tmp_path / "saved.tar"), ref)
        with tarfile.open(tmp_path / "saved.tar") as tf:
            names = tf.getnames()
        for diff_id in json.loads(diff_ids):
            assert f"blobs/sha256/{diff_id[7:]}" in names
        third.ok("load", "-i", str(tmp_path / "saved.tar"))
        assert third.ok("run", "--rm", ref, "echo", "saved") == "saved\n"
        assert third.ok("inspect", "-f", "{{json .RootFS.Layers}}", ref) == diff_ids
        third.ok("rmi", ref)
        # push where the registry has nothing: rebuilt, compressed, sent
        moved = f"{elsewhere.host}/you/app:2"
        other.ok("tag", ref, moved)
        out = other.ok("push", moved)
        assert ": Pushed" in out, out
        assert "Layer already exists" in other.ok("push", moved)
        third.ok("pull", moved)
        assert third.ok("run", "--rm", moved, "echo", "pushed") == "pushed\n"
        assert third.ok("inspect", "-f", "{{json .RootFS.Layers}}", moved) == diff_ids
        assert third.ok("inspect", "-f", "{{.Id}}", moved).strip() == config
    finally:
        elsewhere.stop()
        other.cleanup()
        third.cleanup()


def test_cross_repository_mount(dcfg, registry):
    d = dcfg
    d.ok("run", "--rm", "busybox", "true")
    d.ok("tag", "busybox", f"{registry.host}/a/app:1")
    d.ok("tag", "busybox", f"{registry.host}/b/app:1")
    d.ok("push", f"{registry.host}/a/app:1")
    assert "Mounted from a/app" in d.ok("push", f"{registry.host}/b/app:1")


def test_pull_all_tags(dcfg, registry, tmp_path):
    """`pull -a` fetches every tag the registry lists and names the repository."""
    d = dcfg
    d.ok("run", "--rm", "busybox", "true")
    repo = f"{registry.host}/me/tags"
    for tag in ("1", "2", "latest"):
        d.ok("tag", "busybox", f"{repo}:{tag}")
        d.ok("push", "-q", f"{repo}:{tag}")
    other = _second_store(tmp_path)
    try:
        out = other.ok("pull", "--all-tags", repo)
        assert "Using default tag" not in out
        for tag in ("1", "2", "latest"):
            assert f"{tag}: Pulling from me/tags" in out
            assert other.ok("inspect", "-f", "{{.Id}}", f"{repo}:{tag}") == d.ok("inspect", "-f", "{{.Id}}", "busybox")
        assert out.count("Pull complete") == 1  # the layer, once; the later tags find it
        assert out.strip().splitlines()[-2:] == [f"Status: Downloaded newer image for {repo}", repo]
        assert other.ok("pull", "-qa", repo).strip() == repo
        p = other("pull", "-a", f"{repo}:1")
        assert p.returncode == 125 and "tag can't be used with --all-tags/-a" in p.stderr
        p = other("pull", "-a", f"{registry.host}/me/none")
        assert p.returncode == 125 and "does not exist" in p.stderr
    finally:
        other.cleanup()


def test_pull_by_digest_and_run_auto_pull(dcfg, registry, tmp_path):
    d = dcfg
    d.ok("run", "--rm", "busybox", "true")
    ref = f"{registry.host}/me/app:1"
    d.ok("tag", "busybox", ref)
    digest = d.ok("push", ref).strip().split("digest: ")[1].split()[0]
    other = _second_store(tmp_path)
    try:
        by_digest = f"{registry.host}/me/app@{digest}"
        out = other.ok("pull", by_digest)
        assert out.strip().endswith(by_digest)
        assert "<none>" in other.ok("images")
        assert other.ok("run", "--rm", by_digest, "echo", "by-digest") == "by-digest\n"
        p = other("run", "--rm", ref, "echo", "auto")
        assert p.returncode == 0 and p.stdout == "auto\n"
        assert p.stderr.startswith(f"Unable to find image '{ref}' locally\n1: Pulling from me/app\n")
        p = other("run", "--rm", "--pull", "never", f"{registry.host}/me/absent:1", "true")
        assert p.returncode == 125 and "No such image" in p.stderr
    finally:
        other.cleanup()


def _push_platform_image(registry, arch: str, layer: bytes, repo: str = "multi/app",
                         diff_ids: list[str] | None = None, layers: list[bytes] | None = None) -> tuple[str, str, int]:
    """Blobs and a manifest put straight into the registry, so a test can make
    them say anything: `diff_ids` (default: those of `layers`) need not match."""
    layers = layers or [layer]
    if diff_ids is None:
        diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    cfg = json.dumps({"architecture": arch, "os": "linux", "created": "2025-01-01T00:00:00Z",
                      "config": {"Cmd": ["/bin/busybox", "echo", arch]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    for blob in (*layers, cfg):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/blobs/uploads/", method="POST", data=b"")
        with urllib.request.urlopen(req) as r:
            loc = r.headers["Location"]
        loc = loc if loc.startswith("http") else f"http://{registry.host}{loc}"
        req = urllib.request.Request(f"{loc}{'&' if '?' in loc else '?'}digest={digest}", data=blob, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": "sha256:" + hashlib.sha256(b).hexdigest(),
                                       "size": len(b)} for b in layers]}).encode()
    mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    registry.put(f"/v2/{repo}/manifests/{mdigest}", manifest, "application/vnd.oci.image.manifest.v1+json")
    return mdigest, "sha256:" + hashlib.sha256(cfg).hexdigest(), len(manifest)


def _busybox_layer() -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        with open("/usr/bin/busybox", "rb") as f:
            data = f.read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(data), 0o755
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_index_with_two_platforms_picks_the_right_one(fresh_dy, registry):
    from dockyard.oci.platform import host

    layer = _busybox_layer()
    mine = host().architecture
    foreign = "s390x" if mine != "s390x" else "amd64"
    m1, c1, s1 = _push_platform_image(registry, mine, layer)
    m2, c2, s2 = _push_platform_image(registry, foreign, layer)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m2, "size": s2,
         "platform": {"os": "linux", "architecture": foreign}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m1, "size": s1,
         "platform": {"os": "linux", "architecture": mine}}]}).encode()
    registry.put("/v2/multi/app/manifests/1", index, "application/vnd.oci.image.index.v1+json")
    ref = f"{registry.host}/multi/app:1"
    d = fresh_dy
    d.ok("pull", ref)
    assert d.ok("inspect", "-f", "{{.Id}} {{.Architecture}}", ref).split() == [c1, mine]
    assert d.ok("run", "--rm", ref) == f"{mine}\n"
    d.ok("pull", "--platform", f"linux/{foreign}", ref)
    assert d.ok("inspect", "-f", "{{.Id}}", ref).strip() == c2
    p = d("pull", "--platform", "linux/riscv64", ref)
    assert p.returncode == 125 and "no matching manifest for linux/riscv64" in p.stderr
    # a manifest for another platform only
    registry.put("/v2/multi/app/manifests/foreign", _manifest_bytes(registry, m2),
                 "application/vnd.oci.image.manifest.v1+json")
    p = d("pull", f"{registry.host}/multi/app:foreign")
    assert p.returncode == 125 and f"is for linux/{foreign}" in p.stderr and p.stderr.count("\n") == 1


def _manifest_bytes(registry, digest: str) -> bytes:
    req = urllib.request.Request(f"http://{registry.host}/v2/multi/app/manifests/{digest}",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req) as r:
        return r.read()


def _store_snapshot(d) -> tuple:
    blobs = sorted(os.listdir(os.path.join(d.root, "blobs", "sha256"))) if os.path.isdir(
        os.path.join(d.root, "blobs", "sha256")) else []
    layers = sorted(n for n in os.listdir(os.path.join(d.root, "layers")) if n not in ("ingest", "l")) if \
        os.path.isdir(os.path.join(d.root, "layers")) else []
    return blobs, layers, d.ok("images", "-q")


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_a_damaged_blob_is_rejected_and_nothing_is_stored(dcfg, registry, tmp_path, damage):
    d = dcfg
    d.ok("run", "--rm", "busybox", "true")
    ref = f"{registry.host}/me/app:1"
    d.ok("tag", "busybox", ref)
    d.ok("push", ref)
    manifest = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"http://{registry.host}/v2/me/app/manifests/1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})).read())
    path = registry.blob_path(manifest["layers"][0]["digest"])
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:-1] + bytes([data[-1] ^ 1]) if damage == "tampered" else data[: len(data) // 2])
    other = _second_store(tmp_path)
    try:
        other.ok("images")  # an empty store
        before = _store_snapshot(other)
        p = other("pull", ref)
        assert p.returncode == 125 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
        assert "digest" in p.stderr or "truncated" in p.stderr or "bytes" in p.stderr
        assert _store_snapshot(other) == before
        assert os.listdir(os.path.join(other.root, "blobs", "ingest")) == []
        with open(path, "wb") as f:  # repaired: the pull can simply be run again
            f.write(data)
        other.ok("pull", ref)
        assert other.ok("run", "--rm", ref, "echo", "ok") == "ok\n"
    finally:
        other.cleanup()


def test_errors_are_one_line(fresh_dy, registry):
    d = fresh_dy
    for args, code, text in [
        (["pull", f"{registry.host}/me/none:1"], 125, "not found"),
        (["pull", "127.0.0.1:1/me/app:1"], 125, "cannot reach"),
        (["pull", "Bad/Name"], 125, "invalid reference format"),
        (["push", f"{registry.host}/me/absent:1"], 125, "An image does not exist locally with the tag"),
    ]:
        p = d(*args)
        assert p.returncode == code and text in p.stderr and p.stderr.count("\n") == 1, (args, p.stderr)


def test_offline_mode_refuses_remote_registries(fresh_dy):
    p = fresh_dy("pull", "example.com/app:1")
    assert p.returncode == 125 and "DOCKYARD_OFFLINE" in p.stderr
    p = fresh_dy("run", "--rm", "no-such-image-here")
    assert p.returncode == 125
    assert p.stderr.splitlines()[0] == "Unable to find image 'no-such-image-here:latest' locally"


@pytest.fixture
def basic_registry(tmp_path):
    if not shutil.which("htpasswd"):
        pytest.skip("htpasswd (apache2-utils) is not installed")
    base = tmp_path / "basic-registry"
    base.mkdir()
    users = base / "htpasswd"
    users.write_text(subprocess.run(["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True,
                                    check=True).stdout)
    r = Registry(str(base), f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {users}\n")
    yield r
    r.stop()


def test_basic_auth_login_push_logout(dcfg, basic_registry, tmp_path):
    d, reg = dcfg, basic_registry
    d.ok("run", "--rm", "busybox", "true")
    ref = f"{reg.host}/alice/app:1"
    d.ok("tag", "busybox", ref)
    p = d("push", ref)
    assert p.returncode == 125 and "unauthorized" in p.stderr
    p = d("login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n")
    assert p.returncode == 125 and "unauthorized" in p.stderr
    assert not os.path.exists(os.path.join(d.env["DOCKER_CONFIG"], "config.json"))
    assert d.ok("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n") == "Login Succeeded\n"
    cfg = json.load(open(os.path.join(d.env["DOCKER_CONFIG"], "config.json")))
    assert base64.b64decode(cfg["auths"][reg.host]["auth"]) == b"alice:s3cret"
    d.ok("push", ref)
    other = _second_store(tmp_path)
    other.env["DOCKER_CONFIG"] = d.env["DOCKER_CONFIG"]
    try:
        assert other.ok("run", "--rm", ref, "echo", "authed") == "authed\n"
        assert d.ok("logout", reg.host) == f"Removing login credentials for {reg.host}\n"
        p = other("pull", ref)
        assert p.returncode == 125 and "unauthorized" in p.stderr
    finally:
        other.cleanup()


class _TokenServer:
    """Issues ES256 JWTs the registry trusts (its cert is the registry's rootcertbundle)
    to alice:s3cret, with exactly the access asked for."""

    def __init__(self, base) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        import datetime

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard-test-token")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = os.path.join(base, "token.pem")
        with open(self.cert_path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                ok = auth == "Basic " + base64.b64encode(b"alice:s3cret").decode()
                server.requests.append({"scope": q.get("scope", []), "service": q.get("service", [""])[0],
                                        "authorized": ok})
                if not ok:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.jwt(q), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def jwt(self, q) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        access = []
        for s in q.get("scope", []):
            kind, name, actions = s.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.der).decode()]}
        claims = {"iss": "dockyard-test", "sub": "alice", "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def stop(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def token_registry(tmp_path):
    pytest.importorskip("cryptography")
    base = tmp_path / "token-registry"
    base.mkdir()
    tokens = _TokenServer(str(base))
    r = Registry(str(base), f"auth:\n  token:\n    realm: {tokens.url}\n    service: dockyard-test-registry\n"
                            f"    issuer: dockyard-test\n    rootcertbundle: {tokens.cert_path}\n")
    yield r, tokens
    r.stop()
    tokens.stop()


def test_token_auth(dcfg, token_registry, tmp_path):
    d = dcfg
    reg, tokens = token_registry
    d.ok("run", "--rm", "busybox", "true")
    ref = f"{reg.host}/alice/app:1"
    d.ok("tag", "busybox", ref)
    p = d("push", ref)
    assert p.returncode == 125 and "unauthorized" in p.stderr
    d.ok("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n")
    d.ok("push", ref)
    assert any("repository:alice/app:pull,push" in r["scope"] and r["authorized"]
               and r["service"] == "dockyard-test-registry" for r in tokens.requests)
    other = _second_store(tmp_path)
    other.env["DOCKER_CONFIG"] = d.env["DOCKER_CONFIG"]
    try:
        other.ok("pull", ref)
        assert any(r["scope"] == ["repository:alice/app:pull"] for r in tokens.requests)
        assert other.ok("run", "--rm", ref, "echo", "token") == "token\n"
    finally:
        other.cleanup()


def test_save_load_round_trip_both_formats(fresh_dy, tmp_path):
    import tarfile

    d = fresh_dy
    d.ok("run", "--rm", "busybox", "true")
    d.ok("tag", "busybox", "roundtrip:1")
    d.ok("save", "-o", str(tmp_path / "all.tar"), "roundtrip:1")
    with tarfile.open(tmp_path / "all.tar") as tf:
        names = tf.getnames()
        members = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    assert {"manifest.json", "index.json", "oci-layout"} <= set(names)
    for keep, drop in (("manifest.json", ("index.json", "oci-layout")), ("index.json", ("manifest.json",))):
        only = tmp_path / f"only-{keep}.tar"
        with tarfile.open(only, "w") as tf:
            import io

            for n, data in members.items():
                if n in drop:
                    continue
                ti = tarfile.TarInfo(n)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        other = _second_store(tmp_path, f"s-{keep}")
        try:
            assert other.ok("load", "-i", str(only)) == "Loaded image: roundtrip:1\n"
            assert other.ok("run", "--rm", "roundtrip:1", "echo", keep) == f"{keep}\n"
        finally:
            other.cleanup()
    p = d("save", "roundtrip:1", text=False)  # to a pipe
    assert p.returncode == 0 and len(p.stdout) > 1000


def test_tag_history_export_images_filters_and_prune(fresh_dy, tmp_path):
    import tarfile

    d = fresh_dy
    cid = d.ok("run", "-d", "busybox", "sh", "-c", "echo hi > /made-here; rm /etc/group").strip()
    d.ok("wait", cid)
    d.ok("tag", "busybox", "mine:2")
    assert "mine" in d.ok("images", "mine")
    assert "busybox" not in d.ok("images", "--filter", "reference=mine")
    hist = d.ok("history", "mine:2").splitlines()
    assert hist[0].split()[:4] == ["IMAGE", "CREATED", "CREATED", "BY"] and len(hist) == 2
    d.ok("export", "-o", str(tmp_path / "c.tar"), cid)
    with tarfile.open(tmp_path / "c.tar") as tf:
        names = set(tf.getnames())
        assert tf.extractfile("made-here").read() == b"hi\n"
    assert "bin/busybox" in names and "etc/passwd" in names and "etc/group" not in names
    d.ok("rm", cid)
    assert d.ok("images", "-q", "--filter", "dangling=true") == ""
    d.ok("rmi", "busybox", "mine:2")
    assert d.ok("images", "-q") == ""


def _archive_with_layers(path, tag: str, layers: list[bytes]) -> None:
    from test_images import docker_archive

    docker_archive(path, [tag], layers, ["/bin/busybox", "true"])


def _file_layer(name: str, data: bytes) -> bytes:
    from test_images import _layer

    return _layer({name: data})


def test_layers_already_in_the_store_are_not_fetched_again(fresh_dy, registry, tmp_path):
    d = fresh_dy
    base = _busybox_layer()
    _archive_with_layers(tmp_path / "a.tar", f"{registry.host}/x/a:1", [base, _file_layer("a", b"a")])
    _archive_with_layers(tmp_path / "b.tar", f"{registry.host}/x/b:1", [base, _file_layer("b", b"b")])
    for n in ("a", "b"):
        d.ok("load", "-i", str(tmp_path / f"{n}.tar"))
        d.ok("push", f"{registry.host}/x/{n}:1")
    other = _second_store(tmp_path)
    try:
        first = other.ok("pull", f"{registry.host}/x/a:1")
        assert first.count("Pull complete") == 2
        second = other.ok("pull", f"{registry.host}/x/b:1")
        assert second.count("Already exists") == 1 and second.count("Pull complete") == 1
        assert other.ok("run", "--rm", f"{registry.host}/x/b:1", "/bin/busybox", "cat", "/b") == "b"
    finally:
        other.cleanup()


def test_a_stored_blob_is_not_taken_for_another_stored_layer(fresh_dy, registry, tmp_path):
    """A manifest pairing a blob with a layer the store has, which that blob is not,
    is refused: the layer is not taken on the config's word (the blob is fetched and
    checked, as Docker does), and nothing unpacked from one is filed as the other."""
    from dockyard.oci.platform import host

    d = fresh_dy
    base, extra = _busybox_layer(), _file_layer("b", b"b")
    arch = host().architecture
    good, _, _ = _push_platform_image(registry, arch, base, repo="x/app", layers=[base, extra])
    base_id = "sha256:" + hashlib.sha256(base).hexdigest()
    bad, _, _ = _push_platform_image(registry, arch, extra, repo="x/app", layers=[extra], diff_ids=[base_id])
    d.ok("pull", f"{registry.host}/x/app@{good}")
    before = _store_snapshot(d)
    p = d("pull", f"{registry.host}/x/app@{bad}")
    assert p.returncode == 125 and p.stderr.count("\n") == 1 and "does not match" in p.stderr, p.stderr
    assert _store_snapshot(d) == before
    assert d.ok("run", "--rm", f"{registry.host}/x/app@{good}", "/bin/busybox", "cat", "/b") == "b"


def test_an_interrupted_pull_leaves_nothing_and_can_be_rerun(fresh_dy, registry, tmp_path):
    import signal

    d = fresh_dy
    big = _file_layer("big.bin", os.urandom(48 << 20))
    _archive_with_layers(tmp_path / "big.tar", f"{registry.host}/x/big:1", [_busybox_layer(), big])
    d.ok("load", "-i", str(tmp_path / "big.tar"))
    d.ok("push", f"{registry.host}/x/big:1")
    other = _second_store(tmp_path)
    try:
        other.ok("images")
        ingest = os.path.join(other.root, "blobs", "ingest")
        p = subprocess.Popen([*other.cmd, "pull", "-q", f"{registry.host}/x/big:1"], env=other.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(400):  # kill it while a blob is half written
            if os.path.isdir(ingest) and os.listdir(ingest):
                break
            time.sleep(0.005)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        assert os.listdir(os.path.join(other.root, "blobs", "sha256")) == []  # nothing half-written is visible
        assert other.ok("images", "-q") == ""
        other.ok("pull", f"{registry.host}/x/big:1")
        assert other.ok("run", "--rm", f"{registry.host}/x/big:1", "/bin/busybox", "wc", "-c", "/big.bin").split()[0] \
            == str(48 << 20)
        other.ok("image", "prune", "-a", "-f")  # a prune sweeps what the killed pull left in the ingest area
        assert os.listdir(ingest) == []
    finally:
        other.cleanup()


def test_credential_helper_is_used(dcfg, basic_registry, tmp_path):
    d, reg = dcfg, basic_registry
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = helper_dir / "docker-credential-dytest"
    helper.write_text(f"""#!/bin/sh
# a credential helper keeping one entry in {store}
case "$1" in
  store) cat > {store} ;;
  get) read server; if [ -f {store} ]; then cat {store}; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) rm -f {store} ;;
esac
""")
    helper.chmod(0o755)
    os.makedirs(d.env["DOCKER_CONFIG"], exist_ok=True)
    with open(os.path.join(d.env["DOCKER_CONFIG"], "config.json"), "w") as f:
        json.dump({"credHelpers": {reg.host: "dytest"}}, f)
    env = {"PATH": f"{helper_dir}:{os.environ['PATH']}"}
    d.ok("run", "--rm", "busybox", "true")
    d.ok("tag", "busybox", f"{reg.host}/alice/app:1")
    d.ok("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n", env=env)
    assert json.loads(store.read_text())["Secret"] == "s3cret"
    entry = json.load(open(os.path.join(d.env["DOCKER_CONFIG"], "config.json")))["auths"][reg.host]
    assert "auth" not in entry  # the secret went to the helper, not into config.json
    d.ok("push", f"{reg.host}/alice/app:1", env=env)
    d.ok("logout", reg.host, env=env)
    assert not store.exists()
