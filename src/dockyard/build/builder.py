"""`build`: a Dockerfile's stages executed into an image, step by step, with a cache.

A stage's *state* is what its image would be at that point: layers (bottom first),
the config section (Env, Cmd, WorkingDir, ...), history, and `fs_key`, the cache
key of the file system so far. Instructions act on it:

- config-only instructions (ENV, ARG, LABEL, CMD, ENTRYPOINT, EXPOSE, USER, VOLUME,
  STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER) change the config and add a
  history entry with `empty_layer`, like Docker; no layer, no container;
- RUN creates a container from the state through the Engine (the same runtime,
  isolation and snapshots as `run`), streams its output, and turns the container's
  changes into a layer (snapshot/diff.py); the container is removed after;
- COPY and ADD write their layer directly: a tar of the sources (the context, a
  stage or an image, see build/context.py) at the destination resolved in the
  state's own file system (build/layerfs.py); ADD unpacks local archives, every
  member checked as image layers are (tarsafe), and refuses URLs (no network);
- WORKDIR makes a small layer when its directory does not exist yet.

Cache (build/cache.py): a file-system step's key is a sha256 of the parent's
`fs_key` and of everything the step depends on: RUN its command, environment
(ENV and the ARGs in scope), user, working directory and shell; COPY/ADD their
destination, flags and the content of their sources; WORKDIR its path. A hit reuses
the layer and the time it was made, so an unchanged build yields the very same
image id (no dangling image behind). `no_cache` skips the lookups (entries are still
written).

Only the stages the target needs are built (its FROM chain and `COPY --from`s).
Output imitates BuildKit's plain progress (build/progress.py). Errors raise
`BuildError`, which names the Dockerfile line and carries the step's last output.

The whole build holds the store's GC lock shared, so no `rmi` or prune sweeps the
layers it is using or has just made.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

from ..core.clock import now_ns, rfc3339
from ..errors import DockyardError, InvalidArgument, StartError
from . import cache
from .dockerfile import DockerfileError, parse, parse_line
from .image import LayerRef, image_layers, layer_from_changes, layer_from_writer, present, read_config, store_image
from .words import expand, expand_words

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
COMMENT = "buildkit.dockerfile.v0"
FS_STEPS = ("RUN", "COPY", "ADD", "WORKDIR")


class BuildOptions:
    """What `build` accepts besides the context."""

    def __init__(self, *, tags: list[str] = (), dockerfile: str | None = None,
                 dockerfile_text: bytes | None = None, build_args: dict[str, str | None] | None = None,
                 target: str | None = None, no_cache: bool = False, pull: bool = False,
                 quiet: bool = False, labels: dict[str, str] | None = None,
                 platform: str | None = None) -> None:
        self.tags = list(tags)
        self.dockerfile = dockerfile
        self.dockerfile_text = dockerfile_text
        self.build_args = dict(build_args or {})
        self.target = target
        self.no_cache = no_cache
        self.pull = pull
        self.quiet = quiet
        self.labels = dict(labels or {})
        self.platform = platform


class BuildResult:
    __slots__ = ("image_id", "tags", "steps")

    def __init__(self, image_id: str, tags: list[str], steps: list[tuple[str, bool]]) -> None:
        self.image_id = image_id
        self.tags = tags
        self.steps = steps  # (step name, whether it came from the cache)


class BuildError(DockyardError):
    """A build that failed: `message` as BuildKit words it; `step` the vertex name,
    `logs` its last output lines, `line`/`end_line` the Dockerfile lines."""

    status = 1

    def __init__(self, message: str, *, step: str = "", logs: list[str] = (), line: int | None = None,
                 end_line: int | None = None, filename: str = "Dockerfile", source: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.logs = list(logs)
        self.line = line
        self.end_line = end_line or line
        self.filename = filename
        self.source = source


class State:
    __slots__ = ("layers", "config", "history", "base", "fs_key", "created", "name", "cmd_set",
                 "onbuild_done")

    def __init__(self, layers: list[LayerRef], config: dict, history: list[dict], base: dict,
                 fs_key: str, created: str) -> None:
        self.layers = layers
        self.config = config
        self.history = history
        self.base = base
        self.fs_key = fs_key
        self.created = created
        self.cmd_set = False

    def copy(self) -> "State":
        s = State(list(self.layers), json.loads(json.dumps(self.config)), [dict(h) for h in self.history],
                  dict(self.base), self.fs_key, self.created)
        return s

    def env(self) -> dict[str, str]:
        out = {}
        for e in self.config.get("Env") or []:
            k, _, v = e.partition("=")
            out[k] = v
        return out

    def set_env(self, key: str, value: str) -> None:
        env = [e for e in self.config.get("Env") or [] if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
        self.config["Env"] = env

    def diff_ids(self) -> list[str]:
        return [l.diff_id for l in self.layers]


def _key(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


class _SyntheticImage:
    """What `create` needs of an image, for a build state that is not stored as one."""

    __slots__ = ("id", "created", "loaded", "size", "layers", "manifest", "cmd", "entrypoint", "env",
                 "workdir", "user", "stop_signal")

    def __init__(self, image_id: str, layers: list[str], env: list[str], workdir: str, user: str) -> None:
        self.id = image_id
        self.created = self.loaded = self.size = 0
        self.layers = layers
        self.manifest = None
        self.cmd = None
        self.entrypoint = None
        self.env = env
        self.workdir = workdir
        self.user = user
        self.stop_signal = ""


def _step_engine(engine):
    """An Engine like `engine` that also knows the build's synthetic images by id,
    so RUN containers are made by the ordinary `create` path."""
    base = type(engine)

    class StepEngine(base):
        def __init__(self) -> None:
            super().__init__(engine.layout.root, engine.layout.runroot)
            self.synthetic: dict[str, _SyntheticImage] = {}

        def ensure_image(self, text, progress=None, pull="missing", platform=None):
            img = self.synthetic.get(text)
            if img is not None:
                return img
            return super().ensure_image(text, progress, pull, platform)

    return StepEngine()


class Builder:
    def __init__(self, engine, context, options: BuildOptions, progress) -> None:
        from .progress import Progress

        self.engine = engine
        self.context = context
        self.o = options
        self.p = progress if progress is not None else Progress(None, quiet=True)
        self.steps: list[tuple[str, bool]] = []
        self.df = None
        self.text = ""
        self.filename = "Dockerfile"
        self._step_engine = None
        self.stage_results: dict[int, State] = {}
        self.used_keys: list[str] = []
        self.arch = engine.arch()
        self.used_args: set[str] = set()

    # ---- errors -------------------------------------------------------------

    def _fail(self, message: str, ins=None, vertex=None) -> BuildError:
        if vertex is not None:
            vertex.error(message)
        return BuildError(message, step=vertex.name if vertex is not None else "",
                          logs=vertex.tail if vertex is not None else [],
                          line=getattr(ins, "line", None), end_line=getattr(ins, "end_line", None),
                          filename=self.filename, source=self.text)

    # ---- the whole build ----------------------------------------------------

    def run(self) -> BuildResult:
        from ..image.ingest import gc_lock

        os.makedirs(self.engine.layout.root, exist_ok=True)
        self._load_definition()
        with gc_lock(self.engine.layout.root, exclusive=False):
            try:
                target = self._target_index()
                for i in self._needed(target):
                    self.stage_results[i] = self._build_stage(i)
                final = self.stage_results[target]
                image_id = self._export(final)
            finally:
                if self._step_engine is not None:
                    self._step_engine.close()
                cache.touch(self.engine.db, self.used_keys)
        return BuildResult(image_id, self.o.tags, self.steps)

    def _load_definition(self) -> None:
        o = self.o
        if o.dockerfile_text is not None:
            raw = o.dockerfile_text
            name = "Dockerfile"
        else:
            path = o.dockerfile
            if path is None:
                if self.context.root is None:
                    raise InvalidArgument("no Dockerfile: give one with -f or on stdin")
                path = os.path.join(self.context.root, "Dockerfile")
            name = os.path.basename(path)
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                raise BuildError(f"failed to read dockerfile: open {name}: no such file or directory") from None
            except IsADirectoryError:
                raise BuildError(f"failed to read dockerfile: read {name}: is a directory") from None
        v = self.p.vertex("[internal] load build definition from " + name)
        v.line(f"transferring dockerfile: {len(raw)}B done")
        v.done()
        self.filename = name
        self.text = raw.decode("utf-8", "replace")
        try:
            self.df = parse(raw, filename=name)
        except DockerfileError as e:
            raise BuildError(e.message, line=e.line, end_line=e.end_line, filename=name, source=self.text) from None
        for w in self.df.warnings:
            self.p.warn(w)
        if self.context.root is not None:
            v = self.p.vertex("[internal] load .dockerignore")
            data = self.context.read(".dockerignore")
            v.line(f"transferring context: {len(data or b'')}B done")
            v.done()
        self.meta = self._meta_args()

    def _platform(self) -> str:
        return f"linux/{self.arch}"

    def _check_platform(self, text: str | None, ins=None) -> None:
        if not text:
            return
        want = text.strip().lower()
        parts = want.split("/")
        if parts[0] != "linux" or (len(parts) > 1 and parts[1] != self.arch):
            raise self._fail(f"platform {text} is not supported: this machine builds {self._platform()} only", ins)

    def _meta_args(self) -> dict[str, str | None]:
        plat = {"BUILDPLATFORM": self._platform(), "BUILDOS": "linux", "BUILDARCH": self.arch,
                "BUILDVARIANT": "", "TARGETPLATFORM": self.o.platform or self._platform(),
                "TARGETOS": "linux", "TARGETARCH": self.arch, "TARGETVARIANT": ""}
        self._check_platform(self.o.platform)
        meta: dict[str, str | None] = dict(plat)
        for ins in self.df.meta_args:
            for k, v in ins.pairs:
                env = {a: b for a, b in meta.items() if b is not None}
                try:
                    key = expand(k, env, self.df.escape)
                    if key in self.o.build_args and self.o.build_args[key] is not None:
                        meta[key] = self.o.build_args[key]
                        self.used_args.add(key)
                    else:
                        meta[key] = expand(v, env, self.df.escape) if v is not None else None
                except DockerfileError as e:
                    raise self._fail(e.reason, ins) from None
        return meta

    def _target_index(self) -> int:
        from .dockerfile import stage_index

        if not self.o.target:
            return len(self.df.stages) - 1
        try:
            return stage_index(self.df, self.o.target)
        except DockerfileError as e:
            raise BuildError(f"failed to solve: {e.reason}") from None

    def _base_name(self, stage) -> str:
        env = {k: v for k, v in self.meta.items() if v is not None}
        try:
            return expand(stage.base, env, self.df.escape)
        except DockerfileError as e:
            raise self._fail(e.reason, stage.from_instruction) from None

    def _stage_ref(self, name: str, before: int) -> int | None:
        from .dockerfile import find_stage

        try:
            i = find_stage(self.df, name)
        except DockerfileError:
            return None
        if i is not None and i < before:
            return i
        return None

    def _needed(self, target: int) -> list[int]:
        need: set[int] = set()

        def visit(i: int) -> None:
            if i in need:
                return
            need.add(i)
            stage = self.df.stages[i]
            ref = self._stage_ref(self._base_name(stage), i)
            if ref is not None:
                visit(ref)
            for ins in stage.instructions:
                frm = ins.flags.get("from") if ins.cmd == "COPY" else None
                if frm:
                    r = self._stage_ref(frm, i)
                    if r is not None:
                        visit(r)

        visit(target)
        return sorted(need)

    # ---- stages -------------------------------------------------------------

    def _prefix(self, stage) -> str:
        if len(self.df.stages) == 1:
            return ""
        return (stage.name or f"stage-{stage.index}") + " "

    def _build_stage(self, i: int) -> State:
        stage = self.df.stages[i]
        base = self._base_name(stage)
        self._check_platform(expand(stage.platform, {k: v for k, v in self.meta.items() if v is not None},
                                    self.df.escape) if stage.platform else None, stage.from_instruction)
        onbuild: list = []
        ref = self._stage_ref(base, i)
        if ref is not None:
            state = self.stage_results[ref].copy()
            shown = base
        elif base == "scratch":
            created = rfc3339(0)
            state = State([], {"Env": [f"PATH={DEFAULT_PATH}"]}, [], {"architecture": self.arch, "os": "linux"},
                          _key("FROM", "scratch"), created)
            shown = "scratch"
        else:
            state, shown = self._from_image(base, stage.from_instruction)
            onbuild = list(state.config.get("OnBuild") or [])
        state.config["OnBuild"] = None
        triggers = []
        for text in onbuild:
            try:
                triggers.append(parse_line(text, self.df.escape))
            except DockerfileError as e:
                raise self._fail(f"parsing ONBUILD trigger {text!r}: {e.reason}", stage.from_instruction) from None
        total = 1 + sum(1 for ins in triggers + stage.instructions if ins.cmd in FS_STEPS)
        prefix = self._prefix(stage)
        counter = [1]
        v = self.p.vertex(f"[{prefix}1/{total}] FROM {shown}")
        v.cached() if shown != "scratch" else v.done()
        self.steps.append((f"FROM {shown}", True))
        args: dict[str, str | None] = {}
        ctx = _StageContext(self, stage, state, args, prefix, total, counter)
        for ins in triggers:
            ctx.dispatch(ins, trigger=True)
        for ins in stage.instructions:
            ctx.dispatch(ins)
        return ctx.state

    def _from_image(self, name: str, ins) -> tuple[State, str]:
        from ..oci import reference

        try:
            ref = reference.parse(name)
        except InvalidArgument as e:
            raise self._fail(f"failed to parse stage name \"{name}\": {e.message}", ins) from None
        v = self.p.vertex(f"[internal] load metadata for {ref}")
        try:
            img = self._ensure(name)
        except DockyardError as e:
            raise self._fail(f"{ref.familiar}: failed to resolve source metadata for {ref}: {e.message}", ins, v) from None
        v.done()
        config = read_config(self.engine, img.id)
        base = {k: config[k] for k in ("architecture", "os", "variant", "os.version") if k in config}
        section = dict(config.get("config") or {})
        state = State(image_layers(self.engine, img), section, list(config.get("history") or []), base,
                      _key("FROM", img.id), config.get("created") or rfc3339(0))
        return state, str(ref)

    def _ensure(self, name: str):
        if not self.o.pull:
            return self.engine.ensure_image(name, None, "missing")
        from ..image.resolve import default_sources
        from ..oci import reference

        ref = reference.parse(name)
        builtin = [s for s in default_sources() if s.name != "registry" and s.provides(ref)]
        if builtin:  # made here, offline: nothing newer to pull
            return self.engine.ensure_image(name, None, "missing")
        return self.engine.ensure_image(name, None, "always")

    # ---- export -------------------------------------------------------------

    def _export(self, state: State) -> str:
        from ..oci import reference

        config = dict(state.config)
        if self.o.labels:
            labels = dict(config.get("Labels") or {})
            labels.update(self.o.labels)
            config["Labels"] = labels
        doc = dict(state.base)
        doc["created"] = state.created
        doc["config"] = {k: v for k, v in config.items() if v is not None}
        doc["history"] = state.history
        tags = []
        for t in self.o.tags:
            try:
                r = str(reference.parse(t))
            except InvalidArgument as e:
                raise BuildError(f"invalid tag \"{t}\": {e.message}") from None
            if r not in tags:
                tags.append(r)
        v = self.p.vertex("exporting to image")
        v.line("exporting layers done")
        with self.engine._ingest() as ing:
            for layer in state.layers:
                if not present(self.engine, layer):
                    raise self._fail(f"layer {layer.diff_id} is missing from the store", None, v)
            image_id, _ = store_image(ing, doc, state.layers, tags)
        v.line(f"writing image {image_id} done")
        for t in tags:
            v.line(f"naming to {t} done")
        v.done()
        return image_id

    # ---- RUN ------------------------------------------------------------------

    def step_engine(self):
        if self._step_engine is None:
            self._step_engine = _step_engine(self.engine)
        return self._step_engine

    def run_container(self, state: State, argv: list[str], env: list[str], vertex, stdin_data: bytes | None):
        """Run `argv` in a container of `state`; returns its changes as a LayerRef or
        None. Raises BuildError if it fails."""
        from ..services.changes import changes_for
        from ..services.options import CreateOptions

        se = self.step_engine()
        diff_ids = state.diff_ids()
        image_id = "sha256:" + _key("RUNIMAGE", state.fs_key, os.urandom(8).hex())
        se.synthetic[image_id] = _SyntheticImage(image_id, diff_ids, env, state.config.get("WorkingDir") or "/",
                                                 state.config.get("User") or "")
        try:
            c = se.create(image_id, argv, CreateOptions())
        except DockyardError as e:
            raise BuildError(e.message) from None
        finally:
            se.synthetic.pop(image_id, None)
        home = se.layout.container(c.id)
        r, w = os.pipe2(os.O_CLOEXEC)
        sin = None
        try:
            if stdin_data is not None:
                # a file rather than a pipe: any size, and nobody has to feed it
                from ..image.ingest import scratch_dir
                from ..core.files import rmtree

                tmp = scratch_dir(self.engine.layout.root)
                try:
                    with open(tmp + "/stdin", "wb") as f:
                        f.write(stdin_data)
                    sin = os.open(tmp + "/stdin", os.O_RDONLY | os.O_CLOEXEC)
                finally:
                    rmtree(tmp)
            self.engine.close()  # the monitor is forked: no SQLite connection may cross a fork
            try:
                handle = se.start(c.id, attach=True, stdout=w, stderr=w, stdin=sin)
            except StartError as e:
                os.close(w)
                w = -1
                return ("error", e.message)
            os.close(w)
            w = -1
            while True:
                data = os.read(r, 65536)
                if not data:
                    break
                vertex.output(data)
            vertex.flush_output()
            try:
                code = handle.wait()
            except StartError as e:
                return ("error", e.message)
            if code != 0:
                return ("exit", code)
            changes = changes_for(se, home, diff_ids)
            if not changes:
                return ("ok", None)
            with self.engine._ingest() as ing:
                return ("ok", layer_from_changes(ing, self.engine.layout.root, changes))
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
            if sin is not None:
                os.close(sin)
            try:
                se.remove(c.id, force=True)
            except DockyardError:
                pass


class _StageContext:
    """Executes one stage's instructions on its state."""

    def __init__(self, b: Builder, stage, state: State, args: dict, prefix: str, total: int,
                 counter: list[int]) -> None:
        self.b = b
        self.stage = stage
        self.state = state
        self.args = args
        self.prefix = prefix
        self.total = total
        self.counter = counter
        self.escape = b.df.escape

    # ---- helpers ----------------------------------------------------------------

    def expansion_env(self) -> dict[str, str]:
        env = {k: v for k, v in self.args.items() if v is not None}
        env.update(self.state.env())
        return env

    def run_env(self) -> list[str]:
        """The environment of a RUN: the config's Env, and the ARGs in scope that no
        ENV overrides (they are not kept in the image)."""
        env = list(self.state.config.get("Env") or [])
        have = {e.partition("=")[0] for e in env}
        env += [f"{k}={v}" for k, v in sorted(self.args.items()) if v is not None and k not in have]
        return env

    def x(self, word: str, ins) -> str:
        try:
            return expand(word, self.expansion_env(), self.escape)
        except DockerfileError as e:
            raise self.b._fail(e.reason, ins) from None

    def history(self, created_by: str, empty: bool, created: str | None = None) -> None:
        entry = {"created": created or self.state.created, "created_by": created_by, "comment": COMMENT}
        if empty:
            entry["empty_layer"] = True
        self.state.history.append(entry)

    def vertex(self, ins, trigger: bool):
        n = self.counter[0] = self.counter[0] + 1
        text = ins.original if not trigger else "ONBUILD " + ins.original
        name = f"[{self.prefix}{n}/{self.total}] {text}"
        return self.b.p.vertex(name), name

    def lookup(self, key: str):
        if self.b.o.no_cache:
            return None
        entry = cache.lookup(self.b.engine.db, key)
        if entry is None or (entry.layer is not None and not present(self.b.engine, entry.layer)):
            return None
        return entry

    def apply_layer(self, key: str, layer: LayerRef | None, created: str, created_by: str) -> None:
        if layer is not None:
            self.state.layers.append(layer)
        self.state.fs_key = key
        self.state.created = created
        self.history(created_by, layer is None, created)
        self.b.used_keys.append(key)

    # ---- dispatch ------------------------------------------------------------------

    def dispatch(self, ins, trigger: bool = False) -> None:
        cmd = ins.cmd
        fn = getattr(self, "do_" + cmd.lower(), None)
        if fn is None:
            raise self.b._fail(f"unknown instruction: {cmd}", ins)
        if cmd in FS_STEPS:
            fn(ins, trigger)
        else:
            fn(ins)

    # ---- config-only instructions -----------------------------------------------------

    def do_arg(self, ins) -> None:
        for k, v in ins.pairs:
            key = self.x(k, ins)
            given = self.b.o.build_args
            if key in given and given[key] is not None:
                value = given[key]
                self.b.used_args.add(key)
            elif key in given and given[key] is None and key in os.environ:
                value = os.environ[key]  # --build-arg KEY alone: the caller's environment
                self.b.used_args.add(key)
            elif v is not None:
                value = self.x(v, ins)
            else:
                value = self.b.meta.get(key)
            self.args[key] = value

    def do_env(self, ins) -> None:
        shown = []
        for k, v in ins.pairs:
            key = self.x(k, ins)
            value = self.x(v or "", ins)
            self.state.set_env(key, value)
            shown.append(f"{key}={value}")
        self.history("ENV " + " ".join(shown), True)

    def do_label(self, ins) -> None:
        labels = dict(self.state.config.get("Labels") or {})
        shown = []
        for k, v in ins.pairs:
            key = self.x(k, ins)
            value = self.x(v or "", ins)
            labels[key] = value
            shown.append(f"{key}={value}")
        self.state.config["Labels"] = labels
        self.history("LABEL " + " ".join(shown), True)

    def do_maintainer(self, ins) -> None:
        self.state.base["author"] = ins.args[0]
        self.history("MAINTAINER " + ins.args[0], True)

    def _command(self, ins) -> list[str]:
        if ins.json:
            return list(ins.args)
        shell = self.state.config.get("Shell") or DEFAULT_SHELL
        return list(shell) + [ins.args[0] if ins.args else ""]

    def do_cmd(self, ins) -> None:
        cmd = self._command(ins)
        self.state.config["Cmd"] = cmd
        self.state.cmd_set = True
        self.history("CMD " + _go_list(cmd), True)

    def do_entrypoint(self, ins) -> None:
        ep = self._command(ins)
        self.state.config["Entrypoint"] = ep
        if not self.state.cmd_set:
            self.state.config["Cmd"] = None  # Docker: an inherited CMD does not survive a new ENTRYPOINT
        self.history("ENTRYPOINT " + _go_list(ep), True)

    def do_expose(self, ins) -> None:
        ports = dict(self.state.config.get("ExposedPorts") or {})
        added = []
        for word in ins.words:
            try:
                specs = expand_words(word, self.expansion_env(), self.escape)
            except DockerfileError as e:
                raise self.b._fail(e.reason, ins) from None
            for spec in specs:
                for p in _ports(spec, lambda m: self.b._fail(m, ins)):
                    ports[p] = {}
                    added.append(p)
        self.state.config["ExposedPorts"] = ports
        self.history("EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted(set(added))) + "]", True)

    def do_user(self, ins) -> None:
        user = self.x(ins.args[0], ins)
        self.state.config["User"] = user
        self.history("USER " + user, True)

    def do_volume(self, ins) -> None:
        vols = dict(self.state.config.get("Volumes") or {})
        added = []
        for w in (ins.args if ins.json else ins.words):
            v = self.x(w, ins)
            if not v.strip():
                raise self.b._fail("VOLUME specified can not be an empty string", ins)
            vols[v] = {}
            added.append(v)
        self.state.config["Volumes"] = vols
        self.history("VOLUME [" + " ".join(added) + "]", True)

    def do_stopsignal(self, ins) -> None:
        sig = self.x(ins.args[0], ins)
        from ..services.signals import parse_signal

        try:
            parse_signal(sig)
        except DockyardError as e:
            raise self.b._fail(e.message, ins) from None
        self.state.config["StopSignal"] = sig
        self.history("STOPSIGNAL " + sig, True)

    def do_shell(self, ins) -> None:
        self.state.config["Shell"] = list(ins.args)
        self.history("SHELL " + _go_list(list(ins.args)), True)

    def do_healthcheck(self, ins) -> None:
        hc = dict(ins.healthcheck or {})
        self.state.config["Healthcheck"] = hc
        self.history("HEALTHCHECK " + ins.original.split(None, 1)[1] if " " in ins.original else "HEALTHCHECK", True)

    def do_onbuild(self, ins) -> None:
        trigger = ins.args[0]
        self.state.config["OnBuild"] = list(self.state.config.get("OnBuild") or []) + [trigger]
        self.history("ONBUILD " + trigger, True)

    # ---- file-system steps ------------------------------------------------------------

    def do_workdir(self, ins, trigger: bool) -> None:
        path = self.x(ins.args[0], ins)
        cur = self.state.config.get("WorkingDir") or "/"
        if not path.startswith("/"):
            path = os.path.join(cur, path)
        path = os.path.normpath(path) if path != "/" else "/"
        if path.startswith("//"):
            path = path[1:]
        self.state.config["WorkingDir"] = path
        v, name = self.vertex(ins, trigger)
        from .layerfs import layer_fs

        fs = layer_fs(self.b.engine, self.state.diff_ids())
        rel, found = fs.resolve(path)
        key = _key(self.state.fs_key, "WORKDIR", path)
        entry = self.lookup(key)
        if found is not None and (not rel or stat.S_ISDIR(found[1].st_mode)):
            # nothing to make: the file system (and its key) stays; cached once seen
            (v.cached if entry is not None else v.done)()
            self.b.steps.append((name, entry is not None))
            if entry is None:
                cache.store(self.b.engine.db, key, None, self.state.created)
            self.b.used_keys.append(key)
            self.history("WORKDIR " + path, True)
            return
        if entry is not None:
            v.cached()
            self.b.steps.append((name, True))
            self.apply_layer(key, entry.layer, entry.created, "WORKDIR " + path)
            return
        if found is not None:
            raise self.b._fail(f"mkdir {path}: not a directory", ins, v)
        created = rfc3339(now_ns())

        def write(f) -> None:
            import tarfile

            with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                w = _TreeWriter(tf, fs, (0, 0))
                w.ensure_dir(rel)

        with self.b.engine._ingest() as ing:
            layer = layer_from_writer(ing, self.b.engine.layout.root, write)
        cache.store(self.b.engine.db, key, layer, created)
        v.done()
        self.b.steps.append((name, False))
        self.apply_layer(key, layer, created, "WORKDIR " + path)

    def do_run(self, ins, trigger: bool) -> None:
        from .dockerfile import run_script

        if ins.flags.get("mount"):
            raise self.b._fail("RUN --mount is not supported by this builder", ins)
        stdin_data = None
        if ins.json:
            argv = list(ins.args)
        else:
            command, script = run_script(ins)
            shell = self.state.config.get("Shell") or DEFAULT_SHELL
            if script is not None:
                name = script.name.replace("'", "")
                stdin_data = script.content.encode()
                command = (f"mkdir -p /dev/pipes && cat > '/dev/pipes/{name}' && chmod 755 '/dev/pipes/{name}'"
                           f" && exec '/dev/pipes/{name}' </dev/null")
                argv = list(DEFAULT_SHELL) + [command]
            else:
                argv = list(shell) + [command]
        env = self.run_env()
        user = self.state.config.get("User") or ""
        workdir = self.state.config.get("WorkingDir") or "/"
        key = _key(self.state.fs_key, "RUN", argv, env, user, workdir, ins.flags.get("network") or "",
                   stdin_data.decode("utf-8", "surrogateescape") if stdin_data else None)
        created_by = "RUN " + " ".join(argv) + " # buildkit"
        v, name = self.vertex(ins, trigger)
        entry = self.lookup(key)
        if entry is not None:
            v.cached()
            self.b.steps.append((name, True))
            self.apply_layer(key, entry.layer, entry.created, created_by)
            return
        created = rfc3339(now_ns())
        shown = " ".join(argv)
        try:
            kind, result = self.b.run_container(self.state, argv, env, v, stdin_data)
        except BuildError as e:
            raise self.b._fail(f'process "{shown}" did not complete successfully: {e.message}', ins, v) from None
        if kind == "exit":
            raise self.b._fail(f'process "{shown}" did not complete successfully: exit code: {result}', ins, v)
        if kind == "error":
            raise self.b._fail(f'process "{shown}" did not complete successfully: {result}', ins, v)
        cache.store(self.b.engine.db, key, result, created)
        v.done()
        self.b.steps.append((name, False))
        self.apply_layer(key, result, created, created_by)

    def do_copy(self, ins, trigger: bool) -> None:
        self._copy(ins, trigger, add=False)

    def do_add(self, ins, trigger: bool) -> None:
        self._copy(ins, trigger, add=True)

    def _copy(self, ins, trigger: bool, add: bool) -> None:
        from .copy import CopyStep

        step = CopyStep(self, ins, add)
        v, name = self.vertex(ins, trigger)
        try:
            key, created_by = step.prepare()
        except BuildError as e:
            raise self.b._fail(e.message, ins, v) from None
        entry = self.lookup(key)
        if entry is not None:
            v.cached()
            self.b.steps.append((name, True))
            self.apply_layer(key, entry.layer, entry.created, created_by)
            step.close()
            return
        created = rfc3339(now_ns())
        try:
            layer = step.write()
        except BuildError as e:
            raise self.b._fail(e.message, ins, v) from None
        finally:
            step.close()
        cache.store(self.b.engine.db, key, layer, created)
        v.done()
        self.b.steps.append((name, False))
        self.apply_layer(key, layer, created, created_by)


class _TreeWriter:
    """Writes directory entries into a layer tar: each parent before its content,
    once, with the metadata the state already has for it (else a new 0755 one)."""

    def __init__(self, tf, fs, owner: tuple[int, int]) -> None:
        self.tf = tf
        self.fs = fs
        self.owner = owner
        self.done: set[str] = set()
        self.now = now_ns() // 10**9

    def ensure_dir(self, rel: str, mode: int | None = None, mtime: float | None = None,
                   owner: tuple[int, int] | None = None) -> None:
        """Emit the directory `rel` and its parents (if not already)."""
        import tarfile

        if not rel:
            return
        parts = rel.split("/")
        for i in range(len(parts)):
            p = "/".join(parts[:i + 1])
            if p in self.done:
                continue
            self.done.add(p)
            ti = tarfile.TarInfo(p)
            ti.type = tarfile.DIRTYPE
            found = self.fs.get(p)
            last = i == len(parts) - 1
            if found is not None and stat.S_ISDIR(found[1].st_mode):
                st = found[1]
                ti.mode, ti.uid, ti.gid, ti.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime
            else:
                ti.mode = mode if (last and mode is not None) else 0o755
                ti.uid, ti.gid = (owner if (last and owner is not None) else self.owner)
                ti.mtime = mtime if (last and mtime is not None) else self.now
            self.tf.addfile(ti)


def _go_list(items: list[str]) -> str:
    """A list as Go's %v prints it in BuildKit's history: ["/bin/sh" "-c" "x"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def _ports(spec: str, fail) -> list[str]:
    """EXPOSE 80, 80/udp, 8000-8002/tcp -> ["80/tcp", ...]."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise fail(f"invalid proto: {proto}")
    lo, dash, hi = port.partition("-")
    if not lo.isdigit() or (dash and not hi.isdigit()):
        raise fail(f"invalid containerPort: {port}")
    a, b = int(lo), int(hi) if dash else int(lo)
    if b < a or b > 65535:
        raise fail(f"invalid port range: {port}")
    return [f"{p}/{proto}" for p in range(a, b + 1)]


def build(engine, context_dir: str | None, options: BuildOptions, progress=None) -> BuildResult:
    """Build; `context_dir` None means no context (a Dockerfile from stdin)."""
    from .context import BuildContext
    from .ignore import IgnoreMatcher

    ignore = None
    if context_dir is not None:
        if not os.path.isdir(context_dir):
            raise InvalidArgument(f'unable to prepare context: path "{context_dir}" not found')
        path = os.path.join(context_dir, ".dockerignore")
        if os.path.isfile(path):
            ignore = IgnoreMatcher.from_file(path)
    ctx = BuildContext(context_dir, ignore)
    try:
        return Builder(engine, ctx, options, progress).run()
    finally:
        ctx.close()
