"""`pull`: an image from a registry into the store.

Resolve the reference to a manifest (through an index, for this machine's platform
or `--platform`), fetch the config, then fetch the layers in parallel: each blob is
hashed as it arrives and unpacked at once, and the layer is published only when
both the blob's digest and the DiffID the config lists match. As in Docker, the
compressed blob is not kept (image/tarsplit.py gives `save` and `push` the tar
back). A layer the store has, unpacked from the same blob, is not fetched again.
Everything goes through an Ingest, so a failed or interrupted pull leaves the
store as it was and can simply be run again.
"""

from __future__ import annotations

from ..core.jsonenc import loads
from ..errors import InvalidImage, NotFound
from ..oci import mediatypes
from ..oci.platform import Platform
from ..oci.reference import Reference
from .client import RegistryClient

MAX_CONFIG = 16 << 20
PARALLEL = 3  # Docker's max-concurrent-downloads
PROCESS_MIN = 1 << 20  # compressed bytes of a layer worth a process of its own
LAYER_TYPES = (mediatypes.OCI_LAYER, mediatypes.OCI_LAYER_GZIP, mediatypes.OCI_LAYER_ZSTD,
               mediatypes.DOCKER_LAYER, mediatypes.DOCKER_LAYER_GZIP, mediatypes.OCI_LAYER_NONDIST,
               mediatypes.OCI_LAYER_NONDIST_GZIP)


class Progress:
    """What a pull or push reports; the CLI renders it (bars, plain lines, nothing)."""

    def status(self, line: str) -> None:
        pass

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        pass


class _Counting:
    """A blob download that reports its progress and refuses to run past its size."""

    def __init__(self, resp, limit: int, on_bytes) -> None:
        self.resp = resp
        self.left = limit + 1
        self.done = 0
        self.on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        b = self.resp.read(n)
        self.left -= len(b)
        if self.left <= 0:
            raise InvalidImage("the registry sent more bytes than the blob's size")
        self.done += len(b)
        self.on_bytes(self.done)
        return b

    def readinto(self, b) -> int:
        view = memoryview(b)
        n = min(len(view), self.left)
        if n <= 0:
            return 0
        ri = getattr(self.resp, "readinto", None)
        if ri is not None:
            k = ri(view[:n]) or 0
        else:
            data = self.resp.read(n)
            k = len(data)
            view[:k] = data
        self.left -= k
        if self.left <= 0:
            raise InvalidImage("the registry sent more bytes than the blob's size")
        self.done += k
        self.on_bytes(self.done)
        return k


def _short(digest: str) -> str:
    return digest[7:19]


def resolve_manifest(client: RegistryClient, ref: Reference, platform: Platform,
                     meanwhile=None) -> tuple[bytes, str, str]:
    """(manifest bytes, its digest, the digest the reference resolved to first);
    `meanwhile` runs while the registry answers the first request."""
    data, media_type, digest = client.get_manifest(ref.path, ref.digest or ref.tag or "latest", meanwhile)
    top = digest
    for _ in range(3):
        if media_type not in mediatypes.INDEXES:
            return data, digest, top
        index = loads(data)
        choice = None
        for desc in index.get("manifests") or []:
            if isinstance(desc, dict) and platform.matches(desc.get("platform")):
                choice = desc
                break
        if choice is None:
            raise NotFound(f"no matching manifest for {platform} in the manifest list entries")
        data, media_type, digest = client.get_manifest(ref.path, choice["digest"])
    raise InvalidImage("image indexes nested too deeply")


def pull(engine, ref: Reference, platform: Platform, progress: Progress | None = None,
         client: RegistryClient | None = None) -> tuple[str, bool, bool]:
    """Pull `ref`; returns (image id, whether anything new was stored, whether the
    tag moved to it: a new tag, or one that named another image)."""
    progress = progress or Progress()
    client = client or RegistryClient(ref.domain)
    progress.status(f"{ref.tag or ref.digest}: Pulling from {ref.path.removeprefix('library/') if ref.domain == 'docker.io' else ref.path}")
    # the two round trips before the layers (manifest, config) each leave the
    # registry ~2 ms to answer: the rest of what a pull loads is loaded meanwhile
    def prepare_ingest() -> None:
        import hashlib  # noqa: F401  (the manifest's digest, next)

        engine._ingest()  # its modules and the storage driver (made again below, for nothing)

    def prepare_unpack() -> None:
        from ..core import workers  # noqa: F401
        from ..image.layers import preload

        preload()

    manifest_bytes, manifest_digest, top_digest = resolve_manifest(client, ref, platform, prepare_ingest)
    manifest = loads(manifest_bytes)
    config_desc = manifest.get("config") or {}
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not isinstance(config_desc.get("digest"), str):
        raise InvalidImage(f"manifest of {ref.familiar} has no config or layers")
    for d in layers:
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
            raise InvalidImage(f"manifest of {ref.familiar} has a malformed layer")
        if d.get("mediaType") and d["mediaType"] not in LAYER_TYPES:
            raise InvalidImage(f"layer {d['digest']} has unsupported media type {d['mediaType']}")
        if d.get("urls"):
            raise InvalidImage(f"layer {d['digest']} is a foreign layer, served from elsewhere")
        size = d.get("size")
        if size is not None and (type(size) is not int or size < 0):
            raise InvalidImage(f"layer {d['digest']} has an invalid size {str(size)[:20]!r}")

    with client.get_blob(ref.path, config_desc["digest"], prepare_unpack) as r:
        reader = _Counting(r, min(int(config_desc.get("size") or MAX_CONFIG), MAX_CONFIG), lambda n: None)
        config_bytes = b"".join(iter(lambda: reader.read(1 << 20), b""))
    from ..oci.digest import of_bytes

    if of_bytes(config_bytes) != config_desc["digest"]:
        raise InvalidImage(f"config of {ref.familiar} does not match its digest")
    try:
        config = loads(config_bytes)
    except ValueError as e:
        raise InvalidImage(f"config of {ref.familiar} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise InvalidImage(f"config of {ref.familiar} is not a JSON object")
    if not platform.matches(config):
        raise NotFound(f"image {ref.familiar} is for {config.get('os')}/{config.get('architecture')}"
                       f"{'/' + config['variant'] if config.get('variant') else ''}, not {platform}")
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(layers):
        raise InvalidImage(f"config of {ref.familiar} lists {len(diff_ids)} layers, its manifest {len(layers)}")

    image_id = config_desc["digest"]
    # pulled by digest, the image gets no tag (with both, the digest decides what is
    # fetched and the tag is not trusted to name it), as Docker does
    tags = [str(ref)] if ref.tag and not ref.digest else []
    repo_digests = [(ref.name, top_digest)]

    def moved(before) -> bool:
        return not tags or before is None or before.id != image_id

    with engine._ingest() as ing:
        # The database is opened only once the downloads are under way (~7 ms off
        # the time to the first byte), unless the config is stored already: then
        # the image may well be here, and nothing is downloaded.
        if ing.blobs.exists(image_id) and ing.images.by_id(image_id) is not None:
            before = ing.images.by_tag(tags[0]) if tags else None
            _retag(ing, image_id, tags, repo_digests)
            progress.status(f"Digest: {top_digest}")
            return image_id, False, moved(before)

        # Layers the store has, unpacked from this very blob: not fetched again. One
        # the store has from another blob (another compression) is fetched all the
        # same, to check that the blob is that layer, as Docker does. (The database
        # is read only when some layer is here: a first pull opens it later.)
        present = [ing.layers.present(d) for d in diff_ids]
        known = {d: (blob, size) for d, blob, size in ing.db.all(
            f"SELECT diff_id, blob, size FROM layers WHERE diff_id IN ({','.join('?' * len(diff_ids))})",
            tuple(diff_ids))} if any(present) else {}

        def job(i: int):
            def fetch(report) -> tuple:
                """Runs in a worker: returns (blob, blob size, unpacked size, new
                blob, new layer)."""
                desc, diff_id = layers[i], diff_ids[i]
                size = int(desc.get("size") or 0)
                have = known.get(diff_id)
                if present[i] and have and have[0] == desc["digest"]:
                    report("Already exists", 0, 0)
                    return desc["digest"], size, have[1], False, False
                new_layer = not ing.layers.present(diff_id)
                if ing.blobs.exists(desc["digest"]):
                    report("Extracting", 0, 0)
                    unpacked = ing.layer(desc["digest"], diff_id)
                    new_blob = False
                else:
                    # downloaded, verified and unpacked in one pass
                    last = [0.0]

                    def downloaded(n: int) -> None:
                        import time

                        now = time.monotonic()
                        if now - last[0] > 0.1 or n >= size:
                            last[0] = now
                            report("Downloading", n, size)

                    with client.get_blob(ref.path, desc["digest"]) as r:
                        got, unpacked, new_blob = ing.layer_from_download(_Counting(r, size, downloaded),
                                                                          desc["digest"], diff_id)
                    if size and got != size:
                        raise InvalidImage(f"layer {desc['digest']} is {got} bytes, its manifest says {size}")
                report("Pull complete", 0, 0)
                return desc["digest"], size, unpacked, new_blob, new_layer
            return fetch

        for d in layers:
            progress.layer(_short(d["digest"]), "Pulling fs layer")
        from ..core import workers

        prepare_unpack()  # (once: the imports are done)
        staged = []
        found: dict = {}  # what the database knows, read while the layers download

        def meanwhile() -> None:
            """Config and manifest, written and synced while the layers download
            (they get their names with the image, not before), and the database's
            side: what the tag named before."""
            for data, digest in ((config_bytes, image_id), (manifest_bytes, manifest_digest)):
                if not ing.blobs.exists(digest):
                    w = ing.blobs.writer(digest)
                    staged.append(w)
                    w.write(data)
                    w.sync()
            found["before"] = ing.images.by_tag(tags[0]) if tags else None

        try:
            try:
                # processes unpack in parallel on every core; for small layers
                # (all waiting on the network) threads start and end for less
                big = any((d.get("size") or 0) >= PROCESS_MIN for d in layers)
                results = workers.run([job(i) for i in range(len(layers))], PARALLEL,
                                      lambda i, status, cur, total: progress.layer(_short(layers[i]["digest"]),
                                                                                   status, cur, total),
                                      meanwhile=meanwhile, processes=big)
            except BaseException:
                _forget_partial(ing, layers, diff_ids)
                raise
            for (blob, _, _, new_blob, new_layer), diff_id in zip(results, diff_ids):
                if new_blob and blob not in ing._new_blobs:
                    ing._new_blobs.append(blob)
                if new_layer and diff_id not in ing._new_layers:
                    ing._new_layers.append(diff_id)
            sizes = [r[2] for r in results]
            for w in staged:
                ing._new_blobs.append(w.commit())
            blobs = [(r[0], r[1], d.get("mediaType") or mediatypes.OCI_LAYER_GZIP) for r, d in zip(results, layers)]
            ing.commit(config_bytes, blobs, tags, sizes, manifest_bytes, repo_digests)
        finally:
            for w in staged:
                w.abort()  # nothing once committed
    progress.status(f"Digest: {top_digest}")
    return image_id, True, moved(found["before"])


def _forget_partial(ing, layers: list[dict], diff_ids: list[str]) -> None:
    """Worker processes that finished before another failed have published their
    blobs and layers; record them so the ingest's rollback removes them too (what
    the store had before is in the layers table and is left alone)."""
    known = {r[0] for r in ing.db.all("SELECT diff_id FROM layers")}
    referenced = set()
    for (layer_list,) in ing.db.all("SELECT layers FROM images"):
        referenced.update(layer_list.split())
    for d, diff_id in zip(layers, diff_ids):
        if diff_id not in known and diff_id not in referenced and ing.layers.present(diff_id):
            ing._new_layers.append(diff_id)
        if ing.blobs.exists(d["digest"]) and not ing.db.one(
                "SELECT 1 FROM layers WHERE blob=?", (d["digest"],)):
            ing._new_blobs.append(d["digest"])


def _retag(ing, image_id: str, tags: list[str], repo_digests: list[tuple[str, str]]) -> None:
    from ..core.clock import now_ns

    images = ing.images
    with ing.db.write() as conn:
        for name, digest in repo_digests:
            conn.execute("INSERT OR REPLACE INTO repo_digests (name, digest, image_id) VALUES (?,?,?)",
                         (name, digest, image_id))
        for t in tags:
            images.tag(conn, image_id, t, now_ns())
