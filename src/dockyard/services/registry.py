"""The engine's side of registries: pull, push, login, logout."""

from __future__ import annotations

from ..errors import InvalidArgument, Unauthorized
from ..oci import reference


def pull(engine, text: str, platform: str | None = None, progress=None) -> tuple[str, str, bool]:
    """Returns (image id, the normalised reference, whether the tag moved to it)."""
    from ..oci.platform import parse as parse_platform

    ref = reference.parse(text)
    image_id, moved = _pull_ref(engine, ref, parse_platform(platform), progress)
    return image_id, str(ref), moved


def _pull_ref(engine, ref, target, progress, client=None) -> tuple[str, bool]:
    """Pull one reference and record the event: (image id, whether its tag moved)."""
    from ..registry.pull import pull as do_pull
    from .images import _image_event

    image_id, _, moved = do_pull(engine, ref, target, progress, client)
    _image_event(engine, "pull", ref.familiar, ref.familiar_name, image_id)  # Docker: named by reference
    return image_id, moved


def pull_all_tags(engine, text: str, platform: str | None = None, progress=None) -> tuple[str, bool]:
    """`pull --all-tags`: every tag of a repository, in the registry's order, each
    pulled as `pull` does; the first failure stops it (tags pulled before it stay),
    as in Docker. Returns (the repository's full name, whether any tag moved)."""
    from ..oci.platform import parse as parse_platform
    from ..registry.client import RegistryClient

    repo = reference.parse(text, default_tag=False)
    if repo.tag or repo.digest:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    target = parse_platform(platform)
    client = RegistryClient(repo.domain)
    moved = False
    for tag in client.list_tags(repo.path):
        _, tag_moved = _pull_ref(engine, reference.Reference(repo.domain, repo.path, tag, None), target,
                                 progress, client)
        moved = moved or tag_moved
    return repo.name, moved


def push(engine, text: str, progress=None) -> tuple[str, int]:
    from ..registry.push import push as do_push

    ref = reference.parse(text)
    if ref.digest:
        raise InvalidArgument("cannot push a digest reference")
    digest, size, compressed = do_push(engine, ref, progress)
    from .images import _image_event

    _image_event(engine, "push", ref.familiar, ref.familiar_name, engine._images().lookup(text).id)
    if compressed:
        from .images import collect_garbage

        collect_garbage(engine)  # the uncompressed layer blobs the old manifest named
    return digest, size


def login(server: str | None, user: str, password: str) -> str:
    """Check the credentials against the registry, then keep them; returns its key."""
    from ..registry import auth
    from ..registry.client import RegistryClient

    domain = _domain(server)
    client = RegistryClient(domain)
    client.use_credentials(user, password)
    try:
        client.ping()
    except Unauthorized as e:
        raise Unauthorized(f"login to {domain} failed: {e.message}") from None
    auth.store_credentials(domain, user, password)
    return auth.server_key(domain)


def logout(server: str | None) -> tuple[str, bool]:
    from ..registry import auth

    domain = _domain(server)
    return auth.server_key(domain), auth.erase_credentials(domain)


def _domain(server: str | None) -> str:
    if not server:
        return "docker.io"
    s = server.removeprefix("https://").removeprefix("http://").rstrip("/")
    if s.endswith("/v1") or s.endswith("/v2"):
        s = s[:-3]
    if s in ("index.docker.io", "registry-1.docker.io"):
        return "docker.io"
    if not s or "/" in s:
        raise InvalidArgument(f"invalid registry address: {server}")
    return s
