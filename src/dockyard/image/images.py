"""Images and tags: what `images`, `rmi`, `inspect` and `run` look up.

An image is its config blob (its id is that blob's digest) plus the layers its
config lists; tags map full references (`docker.io/library/busybox:latest`) to ids.
The fields `run` needs are copied out of the config into columns when the image
is stored, so resolving an image on the hot path is one indexed query, no JSON.
"""

from __future__ import annotations

from ..errors import ImageNotFound, InvalidImage, InvalidArgument, Conflict
from ..oci import reference
from ..oci.digest import validate
from ..store.db import Database, join_list, split_list

_COLUMNS = "i.id, i.created, i.loaded, i.size, i.layers, i.manifest, i.cmd, i.entrypoint, i.env, i.workdir, i.user, i.stop_signal"


class Image:
    """One stored image, as `run` and `images` need it."""

    __slots__ = ("id", "created", "loaded", "size", "layers", "manifest", "cmd", "entrypoint",
                 "env", "workdir", "user", "stop_signal")

    def __init__(self, row: tuple) -> None:
        (self.id, self.created, self.loaded, self.size, layers, self.manifest, cmd, ep, env,
         self.workdir, self.user, self.stop_signal) = row
        self.layers = layers.split() if layers else []
        self.cmd = split_list(cmd)
        self.entrypoint = split_list(ep)
        self.env = split_list(env) or []

    @property
    def short_id(self) -> str:
        return self.id[7:19]


class ImageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def by_tag(self, ref: str) -> Image | None:
        row = self.db.one(f"SELECT {_COLUMNS} FROM tags t JOIN images i ON i.id = t.image_id WHERE t.name = ?",
                          (ref,))
        return Image(row) if row else None

    def by_id(self, image_id: str) -> Image | None:
        row = self.db.one(f"SELECT {_COLUMNS} FROM images i WHERE i.id = ?", (image_id,))
        return Image(row) if row else None

    def lookup(self, text: str) -> Image:
        """An image by reference, full id (`sha256:...` or 64 hex) or unique id prefix."""
        img = self.find(text)
        if img is None:
            raise ImageNotFound(f"No such image: {text}")
        return img

    def find(self, text: str) -> Image | None:
        hexpart = text[7:] if text.startswith("sha256:") else text
        is_hex = 0 < len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart)
        if text.startswith("sha256:") and not is_hex:
            raise InvalidArgument(f"invalid reference format: {text!r}")
        if not text.startswith("sha256:"):
            try:
                ref = reference.parse(text)
            except InvalidArgument:
                if not is_hex:
                    raise
                ref = None
            if ref is not None:
                img = self.by_tag(str(ref))
                if img is not None:
                    return img
                if ref.digest:
                    return self._by_manifest_digest(ref)
        if is_hex and (len(hexpart) >= 3 or text.startswith("sha256:")):
            rows = self.db.all(f"SELECT {_COLUMNS} FROM images i WHERE i.id >= ? AND i.id < ? LIMIT 2",
                               ("sha256:" + hexpart, "sha256:" + hexpart + "g"))
            if len(rows) > 1:
                raise InvalidArgument(f"multiple images found with provided prefix: {hexpart}")
            if rows:
                return Image(rows[0])
        return None

    def _by_manifest_digest(self, ref: reference.Reference) -> Image | None:
        row = self.db.one(f"SELECT {_COLUMNS} FROM images i WHERE i.manifest = ?", (ref.digest,))
        return Image(row) if row else None

    def tags_of(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.all("SELECT name FROM tags WHERE image_id = ? ORDER BY name", (image_id,))]

    def all(self) -> list[tuple[Image, list[str]]]:
        images = [Image(r) for r in self.db.all(f"SELECT {_COLUMNS} FROM images i ORDER BY i.created DESC")]
        tags: dict[str, list[str]] = {}
        for name, image_id in self.db.all("SELECT name, image_id FROM tags ORDER BY name"):
            tags.setdefault(image_id, []).append(name)
        return [(i, tags.get(i.id, [])) for i in images]

    def add(self, conn, config: dict, image_id: str, size: int, manifest: str | None,
            now: int) -> bool:
        """Insert an image row inside the caller's transaction; False if it existed."""
        from ..core.clock import parse_rfc3339

        if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
            if manifest:
                conn.execute("UPDATE images SET manifest = COALESCE(manifest, ?) WHERE id = ?",
                             (manifest, image_id))
            return False
        c = config.get("config") or {}
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        for d in diff_ids:
            validate(d)
        try:
            created = parse_rfc3339(config["created"]) if config.get("created") else 0
        except (ValueError, TypeError):
            created = 0
        conn.execute(
            "INSERT INTO images (id, created, loaded, size, layers, manifest, cmd, entrypoint, env,"
            " workdir, user, stop_signal) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (image_id, created, now, size, " ".join(diff_ids), manifest,
             join_list(_str_list(c.get("Cmd"), "Cmd")), join_list(_str_list(c.get("Entrypoint"), "Entrypoint")),
             join_list(_str_list(c.get("Env"), "Env") or []), c.get("WorkingDir") or "",
             c.get("User") or "", c.get("StopSignal") or ""))
        return True

    def tag(self, conn, image_id: str, ref: str, now: int) -> str | None:
        """Point `ref` at `image_id`; returns the image it pointed at before, if another."""
        row = conn.execute("SELECT image_id FROM tags WHERE name = ?", (ref,)).fetchone()
        conn.execute("INSERT OR REPLACE INTO tags (name, image_id, tagged) VALUES (?,?,?)",
                     (ref, image_id, now))
        return row[0] if row and row[0] != image_id else None

    def users(self, conn, image_id: str) -> list[str]:
        return [r[0] for r in conn.execute("SELECT id FROM containers WHERE image_id = ?", (image_id,))]

    def check_removable(self, conn, image_id: str) -> None:
        users = self.users(conn, image_id)
        if users:
            raise Conflict(f"conflict: unable to delete {image_id[7:19]} (must be forced) - "
                           f"image is being used by container {users[0][:12]}")


def _str_list(v, field: str) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidImage(f"image config: {field} must be a list of strings")
    return v
