"""The workflow drawn as MISP's editor draws it, as SVG.

MISP's editor (Drawflow) stores each node's top-left corner in ``pos_x``/``pos_y``, its inputs
on the left edge and its outputs stacked down the right edge, and draws a connection as a cubic
Bézier from an output to an input whose control points sit half the horizontal distance out
(Drawflow's ``curvature`` 0.5). Frames (``_frames``: ``{id, text, nodes, class}``) are boxes
around their nodes. This module does the same from the export, so a run looks like the
workflow its author built; nodes without positions (hand-written files) are laid out by depth
from the trigger, and a trigger the loader added to a blueprint at (0, 0) is moved left of the
node it feeds when it would cover another.

Everything is computed here and written as one SVG string (no script draws the graph): the
page is complete on first paint, and each node is a link (keyboard: Tab, Enter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from runner.service.ui.states import NodeState, WalkStates

NODE_W = 200
NODE_H = 66
OUT_STEP = 22
PAD = 40
FRAME_PAD = 24
AUTO_DX = 320
AUTO_DY = 110
IF_LABELS = {"output_1": "then", "output_2": "else"}


@dataclass
class Box:
    key: str
    x: float
    y: float
    w: float
    h: float
    title: str
    module: str
    module_type: str
    outputs: list[str] = field(default_factory=list)
    has_input: bool = True

    def output_at(self, name: str) -> tuple[float, float]:
        index = self.outputs.index(name) if name in self.outputs else 0
        return self.x + self.w, self.y + self.h * (index + 1) / (len(self.outputs) + 1)

    def input_at(self) -> tuple[float, float]:
        return self.x, self.y + self.h / 2


@dataclass
class Edge:
    id: str          # "<from>:<output>:<index>:<to>", as the --json document's paths name it
    src: str
    output: str
    index: int
    dst: str
    d: str           # the SVG path


@dataclass
class Frame:
    x: float
    y: float
    w: float
    h: float
    text: str


@dataclass
class Layout:
    boxes: dict[str, Box]
    edges: list[Edge]
    frames: list[Frame]
    view: tuple[float, float, float, float]

    def connections(self) -> list[tuple[str, str, int, str]]:
        return [(e.src, e.output, e.index, e.dst) for e in self.edges]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _data(node: Mapping) -> Mapping:
    data = node.get("data")
    return data if isinstance(data, Mapping) else {}


def _outputs(node: Mapping) -> list[tuple[str, list]]:
    raw = node.get("outputs")
    if not isinstance(raw, Mapping):
        return []
    out = []
    for name, value in raw.items():
        conns = value.get("connections") if isinstance(value, Mapping) else None
        if isinstance(conns, Mapping):
            conns = list(conns.values())
        out.append((str(name), conns if isinstance(conns, list) else []))
    return out


def _target(conn: Any) -> str:
    raw = conn.get("node") if isinstance(conn, Mapping) else None
    text = str(raw if raw is not None else "").strip()
    digits = ""
    for ch in text.lstrip("+"):
        if not (ch.isdigit() and ch.isascii()):
            break
        digits += ch
    return str(int(digits)) if digits else text  # the walker reads a target as PHP's (int)


def curve(x1: float, y1: float, x2: float, y2: float, curvature: float = 0.5) -> str:
    """Drawflow's connection path from an output at (x1, y1) to an input at (x2, y2)."""
    hx1 = x1 + abs(x2 - x1) * curvature
    hx2 = x2 - abs(x2 - x1) * curvature
    return f"M {x1:.1f} {y1:.1f} C {hx1:.1f} {y1:.1f} {hx2:.1f} {y2:.1f} {x2:.1f} {y2:.1f}"


def layout(nodes: Mapping[str, Mapping], frames: Any = None, *, added_trigger: str | None = None) -> Layout:
    """Boxes, connections and frames of a graph (node key -> node, as the export has it);
    ``added_trigger``: the key of a trigger the loader added to a blueprint (it has no place of
    its own: it goes left of the node it feeds)."""
    boxes: dict[str, Box] = {}
    unplaced: list[str] = []
    for key, node in nodes.items():
        data = _data(node)
        outs = [name for name, _ in _outputs(node)]
        title = str(node.get("name") or data.get("name") or data.get("id") or key)
        module_type = str(data.get("module_type") or "")
        h = max(NODE_H, 26 + OUT_STEP * len(outs))
        x, y = _number(node.get("pos_x")), _number(node.get("pos_y"))
        boxes[str(key)] = Box(str(key), x or 0.0, y or 0.0, NODE_W, h, title, str(data.get("id") or ""),
                              module_type, outs, module_type != "trigger")
        if x is None or y is None:
            unplaced.append(str(key))
    edges_raw = [(str(key), name, idx, _target(conn))
                 for key, node in nodes.items() for name, conns in _outputs(node) for idx, conn in enumerate(conns)]
    if unplaced:
        _auto_place(boxes, edges_raw, set(unplaced))
    _free_trigger(boxes, edges_raw, added_trigger)
    _spread(boxes, edges_raw)
    edges = []
    for src, name, idx, dst in edges_raw:
        if src not in boxes or dst not in boxes:
            continue
        (x1, y1), (x2, y2) = boxes[src].output_at(name), boxes[dst].input_at()
        edges.append(Edge(f"{src}:{name}:{idx}:{dst}", src, name, idx, dst, curve(x1, y1, x2, y2)))
    drawn_frames = _frames(frames, boxes)
    xs = [b.x for b in boxes.values()] + [f.x for f in drawn_frames]
    ys = [b.y for b in boxes.values()] + [f.y for f in drawn_frames]
    xe = [b.x + b.w for b in boxes.values()] + [f.x + f.w for f in drawn_frames]
    ye = [b.y + b.h for b in boxes.values()] + [f.y + f.h for f in drawn_frames]
    if not xs:
        return Layout(boxes, edges, drawn_frames, (0, 0, 400, 120))
    x0, y0 = min(xs) - PAD, min(ys) - PAD - 18
    return Layout(boxes, edges, drawn_frames, (x0, y0, max(xe) + PAD - x0, max(ye) + PAD - y0))


def _auto_place(boxes: dict[str, Box], edges: list[tuple[str, str, int, str]], unplaced: set[str]) -> None:
    """Depth from the nodes nothing leads to (the trigger first), one column per depth."""
    targets = {dst for _, _, _, dst in edges}
    children: dict[str, list[str]] = {}
    for src, _, _, dst in edges:
        children.setdefault(src, []).append(dst)
    roots = [k for k, b in boxes.items() if b.module_type == "trigger"] + \
        [k for k in boxes if k not in targets and boxes[k].module_type != "trigger"]
    depth: dict[str, int] = {}
    queue = [(k, 0) for k in roots]
    while queue:
        key, d = queue.pop(0)
        if key in depth or key not in boxes:
            continue
        depth[key] = d
        queue += [(c, d + 1) for c in children.get(key, ())]
    for key in boxes:
        depth.setdefault(key, 0)
    rows: dict[int, int] = {}
    for key in boxes:  # graph order within a column
        if key not in unplaced:
            continue
        d = depth[key]
        row = rows.get(d, 0)
        rows[d] = row + 1
        boxes[key].x, boxes[key].y = d * AUTO_DX, row * AUTO_DY


def _spread(boxes: dict[str, Box], edges: list[tuple[str, str, int, str]]) -> None:
    """Scale the positions (both axes alike, so the author's arrangement stays) when nodes drawn
    at this size would overlap: MISP's blocks are narrower than ours with the status line."""
    gaps = [boxes[d].x - boxes[s].x for s, _, _, d in edges if s in boxes and d in boxes and boxes[d].x > boxes[s].x]
    factor = 1.0
    if gaps and min(gaps) < NODE_W + 50:
        factor = (NODE_W + 50) / min(gaps)
    values = sorted(boxes.values(), key=lambda b: b.x)
    for i, a in enumerate(values):  # a sweep over x: only nodes closer than a node's width
        for b in values[i + 1:]:
            if (b.x - a.x) * factor >= NODE_W:
                break
            dy = abs(a.y - b.y)
            if 0 < dy < max(a.h, b.h) + 16:
                factor = max(factor, (max(a.h, b.h) + 16) / dy)
    factor = min(factor, 4.0)
    if factor > 1.0:
        for box in values:
            box.x, box.y = box.x * factor, box.y * factor


def _overlaps(a: Box, b: Box) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _free_trigger(boxes: dict[str, Box], edges: list[tuple[str, str, int, str]], added: str | None) -> None:
    for key, box in boxes.items():
        if box.module_type != "trigger" or len(boxes) < 2:
            continue
        if key != added and not any(_overlaps(box, o) for k, o in boxes.items() if k != key):
            continue
        fed = [boxes[dst] for src, _, _, dst in edges if src == key and dst in boxes and dst != key]
        if key == added and fed:
            box.x = fed[0].x - box.w - 110
        else:
            box.x = min(o.x for k, o in boxes.items() if k != key) - box.w - 110
        box.y = fed[0].y + (fed[0].h - box.h) / 2 if fed else min(o.y for k, o in boxes.items() if k != key)


def _frames(frames: Any, boxes: Mapping[str, Box]) -> list[Frame]:
    out = []
    values = frames.values() if isinstance(frames, Mapping) else frames if isinstance(frames, list) else []
    for frame in values:
        if not isinstance(frame, Mapping):
            continue
        members = [boxes[str(n)] for n in frame.get("nodes") or () if str(n) in boxes]
        if not members:
            continue
        x0 = min(b.x for b in members) - FRAME_PAD
        y0 = min(b.y for b in members) - FRAME_PAD - 16
        x1 = max(b.x + b.w for b in members) + FRAME_PAD
        y1 = max(b.y + b.h for b in members) + FRAME_PAD
        out.append(Frame(x0, y0, x1 - x0, y1 - y0, str(frame.get("text") or "")))
    return out


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def status_line(box: Box, state: NodeState | None) -> str:
    if state is None:
        return ""
    text = state.label
    if state.outputs:
        last = state.outputs[-1]
        text += f" → {IF_LABELS.get(last, last) if len(box.outputs) == 2 else last}"
    if state.queued:
        text += " → job " + ", ".join(map(str, state.queued))
    if len(state.runs) > 1:
        text += f" (×{len(state.runs)})"
    if not state.runs and state.elsewhere:
        text += " (ran in job " + ", ".join(map(str, state.elsewhere)) + ")"
    return text


def svg(plan: Layout, states: WalkStates | None, href: Callable[[str], str | None], *, label: str,
        highlight: set[str] = frozenset()) -> str:
    """The SVG of ``plan`` coloured by ``states`` (None: the workflow alone); ``href(key)`` is
    each node's link; ``highlight`` marks nodes (a comparison's differences)."""
    x0, y0, w, h = plan.view
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" '
             f'width="{w:.0f}" height="{h:.0f}" data-width="{w:.0f}" data-height="{h:.0f}" role="group" '
             f'aria-label="{escape(label)}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
             'markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
             '<g class="frames">']
    for frame in plan.frames:
        parts.append(f'<g class="frame"><rect x="{frame.x:.1f}" y="{frame.y:.1f}" width="{frame.w:.1f}" '
                     f'height="{frame.h:.1f}" rx="10"/><text x="{frame.x + 12:.1f}" y="{frame.y + 18:.1f}">'
                     f'{escape(_short(frame.text, 60))}</text></g>')
    parts.append('</g><g class="edges">')
    for edge in plan.edges:
        kind = "idle"
        if states is not None:
            kind = "taken" if edge.id in states.taken else "queued" if edge.id in states.queued else \
                "skipped" if edge.id in states.skipped else "idle"
        parts.append(f'<path class="edge {kind}" d="{edge.d}" data-edge="{escape(edge.id)}" marker-end="url(#arrow)"/>')
    parts.append('</g><g class="nodes">')
    for key, box in plan.boxes.items():
        state = states.nodes.get(key) if states is not None else None
        status = state.status if state is not None else "plain"
        line = status_line(box, state)
        name = f"Node {key}: {box.title} ({box.module})" + (f", {line}" if line else "")
        link = href(key)
        classes = f"node st-{status} kind-{escape(box.module_type or 'unknown')}" + \
            (" differs" if key in highlight else "")
        attrs = f'class="{classes}" data-node="{escape(key)}" data-status="{status}" aria-label="{escape(name)}"'
        parts.append(f'<a href="{escape(link)}" tabindex="0" {attrs}>' if link else f'<g {attrs}>')
        parts.append(f"<title>{escape(name)}</title>")
        parts.append(f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.0f}" height="{box.h:.0f}" '
                     'rx="8"/>')
        parts.append(f'<rect class="band" x="{box.x:.1f}" y="{box.y:.1f}" width="8" height="{box.h:.0f}" rx="4"/>')
        parts.append(f'<text class="title" x="{box.x + 16:.1f}" y="{box.y + 20:.1f}">{escape(_short(box.title, 27))}'
                     '</text>')
        parts.append(f'<text class="sub" x="{box.x + 16:.1f}" y="{box.y + 37:.1f}">#{escape(_short(key, 8))} · '
                     f'{escape(_short(box.module, 22))}</text>')
        if line:
            parts.append(f'<text class="state" x="{box.x + 16:.1f}" y="{box.y + 54:.1f}">{escape(_short(line, 30))}'
                         '</text>')
        if box.has_input:
            ix, iy = box.input_at()
            parts.append(f'<circle class="port" cx="{ix:.1f}" cy="{iy:.1f}" r="5"/>')
        for out in box.outputs:
            ox, oy = box.output_at(out)
            parts.append(f'<circle class="port" cx="{ox:.1f}" cy="{oy:.1f}" r="5"/>')
            if len(box.outputs) == 2 and out in IF_LABELS:
                parts.append(f'<text class="port-label" x="{ox - 8:.1f}" y="{oy + 4:.1f}">{IF_LABELS[out]}</text>')
        parts.append("</a>" if link else "</g>")
    parts.append("</g></svg>")
    return "".join(parts)
