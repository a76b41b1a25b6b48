#!/bin/bash
# run_all.sh - run the Dockyard engine benchmarks in order, with their default
# parameters: run latency, monitor memory, ps with many containers, logs, exec.
# Extra arguments are passed to every script (e.g. --engines dockyard,docker).
# Run as root, on an idle machine, after `bash /work/shared/peers/setup.sh`.
# Exit status: 0 if every script succeeded, else 1 (all of them still run).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
status=0
for script in run_latency.py monitor_memory.py ps_many.py logs_lines.py exec_latency.py; do
  echo
  echo "######## $script"
  "$PY" "$HERE/$script" "$@" || { echo "######## $script exited $?"; status=1; }
done
exit "$status"
