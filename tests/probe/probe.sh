#!/bin/sh
# probe.sh - what a process inside a container can see and do.
#
# Runs in a busybox container of any engine, e.g.
#   dockyard run --rm busybox sh -c "$(cat tests/probe/probe.sh)"
#   docker run --rm busybox sh -c "$(cat tests/probe/probe.sh)"
#   podman run --rm busybox sh -c "$(cat tests/probe/probe.sh)"
# and prints one line per check: "<check>: ok", "<check>: EXPOSED (<detail>)", or
# "<check>: skipped (<why>)". Under a container engine's defaults nothing should be
# EXPOSED. Compare engines with bench/probe_compare.py.

say() { printf '%s: %s\n' "$1" "$2"; }
check() { if [ "$2" = ok ]; then say "$1" ok; else say "$1" "EXPOSED ($2)"; fi; }

# --- namespaces -------------------------------------------------------------
n=$(ls /proc | grep -c '^[0-9][0-9]*$')
[ "$n" -lt 20 ] && check pid_namespace ok || check pid_namespace "$n processes visible"
[ "$(cut -d' ' -f1 /proc/1/stat 2>/dev/null)" = 1 ] && check pid_1_is_ours ok || check pid_1_is_ours "no PID 1"
ifs=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | grep -v '^lo$' | grep -v '^eth0$' | tr '\n' ' ')
[ -z "$ifs" ] && check net_namespace ok || check net_namespace "host interfaces: $ifs"
grep -qv ':/$' /proc/self/cgroup && check cgroup_namespace "$(grep -v ':/$' /proc/self/cgroup | head -1)" \
  || check cgroup_namespace ok
shm=$(tail -n +2 /proc/sysvipc/shm 2>/dev/null | wc -l)
[ "$shm" -eq 0 ] && check ipc_namespace ok || check ipc_namespace "$shm host SysV segments"
say uts_namespace "skipped (compare hostnames from the host)"
bad=$(awk '{print $5}' /proc/self/mountinfo | grep -Ev '^/(proc|sys|dev|etc/(hostname|hosts|resolv\.conf)|tmp|run|mnt)?(/|$)' | tr '\n' ' ')
[ -z "$bad" ] && check host_mounts ok || check host_mounts "$bad"

# --- privileges --------------------------------------------------------------
capeff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
capbnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
# Docker's default set: 0x00000000a80425fb
beyond() { [ $(( 0x$1 & ~0xa80425fb )) -ne 0 ]; }
beyond "$capeff" && check cap_effective "CapEff=$capeff" || check cap_effective ok
beyond "$capbnd" && check cap_bounding "CapBnd=$capbnd" || check cap_bounding ok
[ "$(awk '/^NoNewPrivs/ {print $2}' /proc/self/status)" = 1 ] && check no_new_privs ok \
  || check no_new_privs "NoNewPrivs=0"
[ "$(awk '/^Seccomp:/ {print $2}' /proc/self/status)" = 2 ] && check seccomp ok || check seccomp "not filtered"

# --- masked and read-only paths ------------------------------------------------
for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
  if [ ! -e "$p" ]; then say "masked $p" "skipped (absent on this kernel)"; continue; fi
  [ -z "$(head -c 64 "$p" 2>/dev/null)" ] && check "masked $p" ok || check "masked $p" "readable"
done
for d in /proc/scsi /proc/acpi /sys/firmware /proc/asound /sys/devices/virtual/powercap; do
  if [ ! -e "$d" ]; then say "masked $d" "skipped (absent on this kernel)"; continue; fi
  [ -z "$(ls -A "$d" 2>/dev/null)" ] && check "masked $d" ok || check "masked $d" "lists $(ls -A "$d" | head -3 | tr '\n' ' ')"
done
for w in /proc/sys/kernel/ns_last_pid /proc/sysrq-trigger /proc/sys/vm/drop_caches; do
  if [ ! -e "$w" ]; then say "read-only $w" "skipped (absent)"; continue; fi
  (echo 0 > "$w") 2>/dev/null && check "read-only $w" "writable" || check "read-only $w" ok
done
for r in /proc/bus /proc/fs /proc/irq; do
  [ -e "$r" ] || { say "read-only $r" "skipped (absent)"; continue; }
  grep -q " $r ro," /proc/self/mountinfo && check "read-only $r" ok || check "read-only $r" "mounted writable"
done
grep -q ' /sys sysfs ro' /proc/mounts && check sys_read_only ok || check sys_read_only "/sys is writable"

# --- devices ---------------------------------------------------------------------
blk=$(ls /dev | grep -E '^(sd[a-z]|vd[a-z]|xvd[a-z]|nvme|hd[a-z]|loop[0-9]|dm-|mem$|kmem$|port$)' | tr '\n' ' ')
[ -z "$blk" ] && check host_devices ok || check host_devices "$blk"
if mknod /tmp/.probe-disk b 8 0 2>/dev/null; then
  head -c 1 /tmp/.probe-disk >/dev/null 2>&1 && check device_cgroup "could read a block device it made" \
    || check device_cgroup ok
  rm -f /tmp/.probe-disk
else
  check device_cgroup ok
fi

# --- refused system calls ------------------------------------------------------------
mkdir -p /tmp/.probe-mnt
mount -t tmpfs probe /tmp/.probe-mnt 2>/dev/null && { umount /tmp/.probe-mnt; check mount "allowed"; } || check mount ok
unshare -m true 2>/dev/null && check unshare_mount "allowed" || check unshare_mount ok
unshare -U true 2>/dev/null && check unshare_user "allowed" || check unshare_user ok
printf '\177ELF not a module' > /tmp/.probe.ko
err=$(insmod /tmp/.probe.ko 2>&1); rm -f /tmp/.probe.ko
case "$err" in *"ermitted"*|*"denied"*) check module_loading ok ;; "") check module_loading "allowed" ;;
  *) check module_loading "not refused: $err" ;; esac
if command -v keyctl >/dev/null 2>&1; then
  keyctl show >/dev/null 2>&1 && check keyctl "allowed" || check keyctl ok
else
  say keyctl "skipped (no keyctl program)"
fi
date -s "2001-01-01" 2>&1 | grep -q 'ermitted' && check set_clock ok || check set_clock "allowed"

# --- escapes ------------------------------------------------------------------------
mkdir -p /tmp/.probe-jail
escape=$(chroot /tmp/.probe-jail /bin/sh -c 'cd ../../../../..; ls /' 2>/dev/null)
root=$(cd / && ls)
parent=$(cd /../../.. && ls)
[ "$parent" = "$root" ] && check chroot_escape ok || check chroot_escape "/.. differs from /"
[ -z "$escape" ] || [ "$escape" = "$root" ] && check chroot_escape_jail ok || check chroot_escape_jail "saw another root"
ls -d /proc/1/root/work /proc/1/root/var/lib/dockyard /proc/1/root/var/lib/docker 2>/dev/null | grep -q . \
  && check proc_root "host directories under /proc/1/root" || check proc_root ok
fds=$(ls /proc/self/fd | grep -vcE '^[0-3]$')
[ "$fds" -le 1 ] && check leaked_fds ok || check leaked_fds "$fds descriptors beyond stdio"
[ "$(readlink /proc/1/cwd)" != "" ] && case "$(readlink /proc/1/cwd)" in /*) check host_cwd ok ;; *) check host_cwd "$(readlink /proc/1/cwd)" ;; esac
(echo x >> /proc/self/exe) 2>/dev/null && check overwrite_exe "could write to /proc/self/exe" || check overwrite_exe ok
rm -rf /tmp/.probe-mnt /tmp/.probe-jail
