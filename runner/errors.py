"""The ways a run can end before the walk decides anything, and the one that ends a walk.

:class:`InputError` is the analyst's mistake (missing file, invalid JSON, not a MISP workflow): the
CLI prints its one-line message and exits with ``EXIT_INVALID_INPUT``. :class:`RunnerError` is
an environment problem the runner cannot work around (module server unreachable while loading
the module list): one line, ``EXIT_FAILURE``.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input. The message names the problem and the file; it never holds a traceback."""


class RunnerError(RuntimeError):
    """The runner cannot run (e.g. the module server is down when the module list is needed)."""


class RunAborted(RuntimeError):
    """Where MISP's run dies (a PHP error outside any module's decision, e.g. an unreachable
    debug URL), the runner stops the walk there with this clear message: the run fails, never a
    silent no-op that would make the workflow look healthy here."""
