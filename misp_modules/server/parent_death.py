"""A child process that must not outlive its parent: ``prctl(PR_SET_PDEATHSIG)`` on Linux.

Used by ``--workers`` children (SIGTERM: a graceful stop, the port is free again) and by the
module worker processes and their fork server (SIGKILL: nothing of theirs is worth finishing).
The kernel sends the signal when the parent *thread* that forked the child exits, so every
fork here is made from a process's main thread. Elsewhere than Linux it does nothing, and the
callers' pipe-EOF checks are what stops the child.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int, parent: int) -> None:
    """Ask the kernel for ``signum`` when the parent dies; exit now if ``parent`` (the pid the
    caller forked from) is already gone (the signal would never come)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(0)
