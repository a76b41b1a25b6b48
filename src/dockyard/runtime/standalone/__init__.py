"""Dockyard's native runtime on its own, behind the OCI runtime command line that
runc and crun implement (`dockyard-runtime create|start|state|kill|delete`), for
callers that bring their own bundle: containerd, podman, the OCI conformance suite.

The lifecycle (runtime-spec runtime.md), and where each step happens:

- `create` (lifecycle.create) reads and checks `config.json` (config.py), claims
  `<root>/<id>` (state.py), makes the cgroup, and forks the container's init
  (runtime.native) with the command's own stdio. The init builds the namespaces
  and mounts, stops while `create` runs the prestart and createRuntime hooks, runs
  the createContainer hooks itself, pivots, drops privileges, and then blocks
  opening the exec FIFO `<root>/<id>/exec.fifo` for writing. `create` writes the
  state and the pid file and exits; the init lives on, re-parented.
- `start` opens the FIFO for reading, which lets the init run the startContainer
  hooks and exec the program; the FIFO is removed (its absence is what "running"
  means), and the poststart hooks run.
- `state` derives the status from the init's pid (and its start time, against pid
  reuse): alive and the FIFO still there is "created", alive without it "running",
  gone or a zombie "stopped".
- `kill` signals the init; `delete` removes a stopped container (`--force`: kills
  it first): its cgroup, the poststop hooks, its state directory.

No process stays behind to watch the container, as with runc: whoever called
`create` owns its output, and the exit status goes to the process that reaps it.
"""
