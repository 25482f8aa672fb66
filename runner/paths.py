"""Walk paths, shared: a path is its parent path plus one edge (misp-behaviour.md §5.4).

MISP's walker hands every node the list of edges from the start node (``"<from>:<output>:<index>:<to>"``)
and copies it for every child: on a chain of n nodes that is n²/2 edges in memory, in the trace
and in a report. Here a :class:`Path` is built once per walk step and points at its parent, so
a walk keeps one object per step, however deep; the edge list is spelled out only on demand
(``list(path)``, MISP's debug protocol). :class:`PathTable` numbers the paths a report uses, so
the ``--json`` document gives each path once (``[parent index, edge]``) and nodes refer to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class Path:
    """An immutable path: ``ROOT`` (``[]``, the start node's) or ``parent + [edge]``.

    Identity is the path's identity in the walk (one object per walk step); ``==`` compares the
    edges, also with a plain list (MISP's format)."""

    __slots__ = ("parent", "edge", "depth")

    def __init__(self, parent: Path | None, edge: str | None) -> None:
        self.parent = parent
        self.edge = edge
        self.depth = 0 if parent is None else parent.depth + 1

    def child(self, edge: str) -> Path:
        return Path(self, edge)

    @property
    def target(self) -> str | None:
        """The node key the path leads to (None for the root: the start node)."""
        return None if self.edge is None else self.edge.rsplit(":", 1)[-1]

    def __len__(self) -> int:
        return self.depth

    def __iter__(self) -> Iterator[str]:
        return iter(self.edges())

    def edges(self) -> list[str]:
        """The edge list, from the start node (MISP's ``path_list``)."""
        out: list[str] = [""] * self.depth
        node: Path | None = self
        while node is not None and node.edge is not None:
            out[node.depth - 1] = node.edge
            node = node.parent
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Path):
            return self is other or self.edges() == other.edges()
        if isinstance(other, list):
            return self.edges() == other
        return NotImplemented

    __hash__ = object.__hash__  # identity: the walk step

    def __repr__(self) -> str:
        return f"Path({self.edges()!r})"


ROOT = Path(None, None)


class PathTable:
    """Numbers paths for a report: ``index(path)`` gives a path's row, adding it and the
    ancestors not yet there; ``rows`` is ``[[parent index or None, edge], ...]`` (the root,
    the start node's empty path, has no row: its index is None)."""

    def __init__(self) -> None:
        self.rows: list[list] = []
        self._index: dict[int, int] = {}

    def index(self, path: Path) -> int | None:
        if path.edge is None:
            return None
        pending: list[Path] = []
        node: Path | None = path
        while node is not None and node.edge is not None and id(node) not in self._index:
            pending.append(node)
            node = node.parent
        for step in reversed(pending):
            parent = None if step.parent is None or step.parent.edge is None else self._index[id(step.parent)]
            self._index[id(step)] = len(self.rows)
            self.rows.append([parent, step.edge])
        return self._index[id(path)]

    def indexes(self, paths: Iterable[Path]) -> list[int | None]:
        return [self.index(p) for p in paths]


def expand(rows: list[list], index: int | None) -> list[str]:
    """The edge list of row ``index`` of a ``paths`` table (for consumers of ``--json``)."""
    edges: list[str] = []
    while index is not None:
        parent, edge = rows[index]
        edges.append(edge)
        index = parent
    return edges[::-1]
