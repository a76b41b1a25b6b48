"""Where Dockyard keeps things on disk.

::

    <root>  (default /var/lib/dockyard; --root or DOCKYARD_ROOT)
    ├── dockyard.db                  SQLite: images, tags, layers, containers (see store.db)
    ├── storage-driver               overlay2 or vfs: a copy of the database's choice
    ├── blobs/sha256/<hex>           content-addressed blobs: manifests, configs, layer tars
    ├── blobs/ingest/                blobs being written; renamed into place once verified
    ├── layers/<diff-id hex>/diff    each image layer, unpacked once, shared by containers
    ├── layers/l/<short>             short links to layer dirs, keeping overlay options short
    ├── layers/ingest/               layers being unpacked; renamed into place once verified
    └── containers/<id>/             one container: its OCI bundle and everything it owns
        ├── config.json              the OCI runtime spec handed to the runtime
        ├── rootfs/                  mount point of the container's root
        ├── diff/ work/              its writable layer (overlay upper and work dirs)
        ├── hostname hosts resolv.conf   bind-mounted over the image's /etc files
        └── <id>-json.log[.1 ...]    its output, in Docker's json-file format, rotated

    <runroot>  (default /run/dockyard; --runroot or DOCKYARD_RUNROOT; a tmpfs)
    ├── booted                       made by the first command of a boot (services/revive.py)
    ├── containers/<id>/attach       the monitor's attach socket (monitor/attach.py)
    ├── seccomp/                     compiled seccomp programs, by profile digest
    └── runc/, crun/                 state roots handed to external OCI runtimes

Everything under <root> for one container lives in one directory, so removing a
container is one tree removal, and a crash leaves nothing scattered.
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUNROOT = "/run/dockyard"


class Layout:
    """Paths of one Dockyard store; cheap to build, creates nothing by itself."""

    __slots__ = ("root", "runroot")

    def __init__(self, root: str | None = None, runroot: str | None = None) -> None:
        self.root = os.path.abspath(root or os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT)
        self.runroot = os.path.abspath(
            runroot or os.environ.get("DOCKYARD_RUNROOT") or DEFAULT_RUNROOT
        )

    @property
    def db(self) -> str:
        return self.root + "/dockyard.db"

    @property
    def driver_file(self) -> str:
        return self.root + "/storage-driver"

    @property
    def blobs(self) -> str:
        return self.root + "/blobs"

    @property
    def layers(self) -> str:
        return self.root + "/layers"

    @property
    def containers(self) -> str:
        return self.root + "/containers"

    def container(self, cid: str) -> str:
        return f"{self.root}/containers/{cid}"

    def runtime_state(self, runtime: str) -> str:
        return f"{self.runroot}/{runtime}"
