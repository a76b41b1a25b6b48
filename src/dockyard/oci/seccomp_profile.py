"""The default seccomp profile, with Docker's effect: everything a normal program
uses is allowed, and what could reach outside the container is refused with EPERM
unless the capability that licenses it was granted (--cap-add):

- kernel modules, kexec, reboot, swap, accounting, clocks, raw I/O ports;
- mount and friends, pivot_root, setns and unshare, and clone() or clone3() with
  namespace flags (a container may not make new namespaces);
- the kernel keyring (add_key, keyctl, request_key), bpf, perf_event_open,
  userfaultfd, kcmp, open_by_handle_at (the classic escape), NUMA policy calls,
  syslog, vhangup; ptrace and process_vm_* only before Linux 4.8, which let ptrace
  escape seccomp;
- personality() except the handful of harmless personas.

The profile is an OCI `linux.seccomp` object (runc and crun read it as is; the
native runtime compiles it with libseccomp). Syscalls unknown when it was written
are refused by the default action, like Docker's allowlist. The names below are
those of the kernel's x86-64, i386 and generic (arm64, riscv) syscall tables.
"""

from __future__ import annotations

# every syscall name of the x86-64, i386 and asm-generic tables
SYSCALLS = (
    "_llseek", "_newselect", "_sysctl", "accept", "accept4", "access", "acct", "add_key",
    "adjtimex", "afs_syscall", "alarm", "arch_prctl", "arm_fadvise64_64", "arm_sync_file_range",
    "bind", "bpf", "breakpoint", "brk", "cacheflush", "capget", "capset", "chdir", "chmod",
    "chown", "chown32", "chroot", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "clock_settime", "clock_settime64", "clone", "clone3", "close",
    "close_range", "connect", "copy_file_range", "creat", "create_module", "delete_module", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_init", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "finit_module", "flistxattr",
    "flock", "fork", "fremovexattr", "fsconfig", "fsetxattr", "fsmount", "fsopen", "fspick",
    "fstat", "fstat64", "fstatat", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat", "get_kernel_syms",
    "get_mempolicy", "get_robust_list", "get_thread_area", "get_tls", "getcpu", "getcwd",
    "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
    "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
    "getpmsg", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid",
    "gettimeofday", "getuid", "getuid32", "getxattr", "init_module", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "ioctl", "ioperm", "iopl", "ioprio_get", "ioprio_set",
    "ipc", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "llseek", "lookup_dcookie", "lremovexattr",
    "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "mbind", "membarrier", "memfd_create",
    "memfd_secret", "migrate_pages", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "modify_ldt", "mount", "mount_setattr", "move_mount",
    "move_pages", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "nfsservctl", "nice", "oldfstat", "oldlstat",
    "oldstat", "olduname", "open", "open_by_handle_at", "open_tree", "openat", "openat2", "pause",
    "perf_event_open", "personality", "pidfd_getfd", "pidfd_open", "pidfd_send_signal", "pipe",
    "pipe2", "pivot_root", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_madvise",
    "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6", "pselect6_time64",
    "ptrace", "putpmsg", "pwrite64", "pwritev", "pwritev2", "query_module", "quotactl",
    "quotactl_fd", "read", "readahead", "readdir", "readlink", "readlinkat", "readv", "reboot",
    "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
    "removexattr", "rename", "renameat", "renameat2", "request_key", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
    "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield", "seccomp", "security", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "set_mempolicy", "set_mempolicy_home_node", "set_robust_list",
    "set_thread_area", "set_tid_address", "set_tls", "setdomainname", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "sethostname",
    "setitimer", "setns", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
    "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
    "setsockopt", "settimeofday", "setuid", "setuid32", "setxattr", "sgetmask", "shmat", "shmctl",
    "shmdt", "shmget", "shutdown", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "sigsuspend", "socket", "socketcall", "socketpair", "splice",
    "ssetmask", "stat", "stat64", "statfs", "statfs64", "statx", "stime", "swapoff", "swapon",
    "symlink", "symlinkat", "sync", "sync_file_range", "sync_file_range2", "syncfs", "sysfs",
    "sysinfo", "syslog", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "tuxcall", "ugetrlimit",
    "umask", "umount", "umount2", "uname", "unlink", "unlinkat", "unshare", "uselib",
    "userfaultfd", "usr26", "usr32", "ustat", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "vhangup", "vm86", "vm86old", "vmsplice", "vserver", "wait4", "waitid", "waitpid",
    "write", "writev",)

# refused unless the capability in the key is granted
BY_CAPABILITY = {
    "CAP_SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                      "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
                      "name_to_handle_at", "open_tree", "perf_event_open", "pivot_root", "quotactl",
                      "quotactl_fd", "setns", "syslog", "umount", "umount2", "unshare"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_MODULE": ("create_module", "delete_module", "finit_module", "init_module", "query_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
                       "ptrace"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
                     "settimeofday", "stime"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", "move_pages"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
}

# ptrace could bypass seccomp before Linux 4.8; from then on Docker allows these
SINCE_4_8 = ("process_vm_readv", "process_vm_writev", "ptrace")

# refused whatever the capabilities
NEVER = ("add_key", "get_kernel_syms", "kexec_file_load", "kexec_load", "keyctl", "nfsservctl",
         "request_key", "swapoff", "swapon", "sysfs", "_sysctl", "uselib", "userfaultfd", "ustat",
         "vm86", "vm86old", "afs_syscall", "break", "ftime", "getpmsg", "gtty", "lock", "mpx", "prof",
         "profil", "putpmsg", "security", "stty", "tuxcall", "ulimit", "vserver")

# syscalls allowed only with some arguments (unless a capability lifts the limit)
CLONE_NAMESPACE_FLAGS = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # PER_LINUX, UNAME26, LINUX32 and both, query
EPERM = 1
ENOSYS = 38


def default_profile(caps: list[str]) -> dict:
    """The OCI linux.seccomp object for a container holding `caps`."""
    granted = set(caps)
    refused: set[str] = set()
    for cap, names in BY_CAPABILITY.items():
        if cap not in granted:
            refused.update(names)
    # capabilities overlap (syslog: SYS_ADMIN or SYSLOG; bpf: SYS_ADMIN or BPF): allow if any grants it
    for cap, names in BY_CAPABILITY.items():
        if cap in granted:
            refused.difference_update(names)
    refused.update(NEVER)
    if _kernel() >= (4, 8):
        refused.difference_update(SINCE_4_8)
    allowed = [n for n in SYSCALLS if n not in refused and n not in ("clone", "clone3", "personality")]
    rules: list[dict] = [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]
    for p in PERSONAS:
        rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]})
    if "CAP_SYS_ADMIN" in granted:
        rules.append({"names": ["clone", "clone3"], "action": "SCMP_ACT_ALLOW"})
    else:
        rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]})
        # clone3 passes its flags in a struct seccomp cannot read: ENOSYS makes libc fall back to clone
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "architectures": native_architectures(), "syscalls": rules}


def _kernel() -> tuple[int, int]:
    import os

    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return (0, 0)


def native_architectures() -> list[str]:
    import os

    machine = os.uname().machine
    if machine == "x86_64":
        return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    if machine == "aarch64":
        return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    return []
