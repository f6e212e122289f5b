"""A seccomp filter that makes Linux refuse the AMX tile permission in this process (and its children), as a
container policy can: ``arch_prctl(ARCH_REQ_XCOMP_PERM, ...)`` fails with ``EPERM``, every other call is allowed.
Standard library only, so a fresh interpreter can install it before importing anything else."""
import ctypes
import struct

__all__ = ["refuse_tile_permission"]

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_AUDIT_ARCH_X86_64 = 0xC000003E
_ARCH_PRCTL = 158
_ARCH_REQ_XCOMP_PERM = 0x1023
_EPERM = 1
_LD_ABS_W, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000

# seccomp_data: nr at 0, arch at 4, args[0] (low 32 bits, little-endian) at 16.
_PROGRAM = [
    (_LD_ABS_W, 0, 0, 4), (_JEQ_K, 0, 5, _AUDIT_ARCH_X86_64),   # another architecture: allow
    (_LD_ABS_W, 0, 0, 0), (_JEQ_K, 0, 3, _ARCH_PRCTL),          # another syscall: allow
    (_LD_ABS_W, 0, 0, 16), (_JEQ_K, 0, 1, _ARCH_REQ_XCOMP_PERM),  # another arch_prctl code: allow
    (_RET_K, 0, 0, _RET_ERRNO | _EPERM),
    (_RET_K, 0, 0, _RET_ALLOW),
]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def refuse_tile_permission():
    """Install the filter (irreversible for this process); raise OSError when the kernel does not take it."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = b"".join(struct.pack("=HBBI", *op) for op in _PROGRAM)
    program = _SockFprog(len(_PROGRAM), code)
    for args in ((_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
                 (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(program), 0, 0)):
        if libc.prctl(*[ctypes.c_ulong(a) for a in args]) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "prctl%r failed" % (args[:2],))
