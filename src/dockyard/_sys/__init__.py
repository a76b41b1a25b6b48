"""Every direct kernel call Dockyard makes through ctypes lives in this package.

Python 3.11 has no os.unshare/os.setns and no mount or pivot_root at all, so these
go through libc. Each wrapper raises errors.KernelError naming the call and path.
"""
