"""A context graph version as a diagram: nodes (states, references to other graphs), labelled edges (exits), laid out
with grandalf's Sugiyama layout (layered, top to bottom). Pure: a graph version's body in, coordinates out.

* action / decision states: one edge per exit condition, labelled with its description;
* recall / annotation / reflection / tool-call states: one unlabelled edge to their ``next_state``;
* a target ``["ref.state", "jumpback"]`` enters the referenced graph ``ref`` at ``state``: it is drawn as an edge to a
  reference node (linking to that graph) and a dashed "return" edge from it to the jumpback state;
* an exit back to its own state is refused by graph validation, so none is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grandalf.graphs import Edge as GEdge
from grandalf.graphs import Graph as GGraph
from grandalf.graphs import Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import route_with_lines

NODE_HEIGHT = 46.0
CHAR_WIDTH = 7.4
MIN_WIDTH = 120.0
COMPONENT_GAP = 60.0
MARGIN = 30.0
LABEL_CHARS = 34  # longer exit descriptions are shortened on the drawing (the full text is its tooltip)
LABEL_CHAR_WIDTH = CHAR_WIDTH * 0.86


@dataclass
class Node:
    key: str  # state name, or "ref:<ref>.<state>"
    label: str
    kind: str  # action | decision | recall | annotation | reflection | tool-call | reference
    initial: bool = False
    terminal: bool = False
    ref_graph: tuple[str, int] | None = None  # reference nodes: [graph_id, version]
    x: float = 0.0
    y: float = 0.0
    width: float = MIN_WIDTH
    height: float = NODE_HEIGHT


@dataclass
class Exit:
    source: str
    target: str
    label: str = ""
    kind: str = "exit"  # exit | next | enter | return
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def short_label(self) -> str:
        text = self.label
        return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"

    @property
    def label_width(self) -> float:
        return len(self.short_label) * LABEL_CHAR_WIDTH + 8 if self.label else 0.0

    @property
    def label_at(self) -> tuple[float, float]:
        if len(self.points) == 2:
            (x1, y1), (x2, y2) = self.points
            return (x1 + x2) / 2, (y1 + y2) / 2
        return self.points[len(self.points) // 2]


@dataclass
class Diagram:
    nodes: dict[str, Node]
    edges: list[Exit]
    width: float = 0.0
    height: float = 0.0


def _targets(state: dict[str, Any]) -> list[tuple[Any, str, str]]:
    """(target, label, kind) for every way out of ``state``."""
    if state.get("type") in ("action", "decision"):
        return [(e.get("next_state"), str(e.get("description") or ""), "exit") for e in state.get("exit_conditions") or []]
    if state.get("next_state") is not None:
        return [(state["next_state"], "", "next")]
    return []


def build(body: dict[str, Any]) -> Diagram:
    """The diagram's nodes and edges (not laid out yet)."""
    states = [s for s in body.get("states") or [] if isinstance(s, dict) and s.get("name")]
    initial = {body.get("new_user_initial_state"), body.get("returning_user_initial_state")}
    references = body.get("references") or {}
    nodes: dict[str, Node] = {}
    for s in states:
        name = str(s["name"])
        nodes[name] = Node(name, name, str(s.get("type") or "action"), initial=name in initial,
                           terminal=name == body.get("terminal_state"))
    edges: list[Exit] = []
    for s in states:
        source = str(s["name"])
        for target, label, kind in _targets(s):
            if isinstance(target, (list, tuple)) and len(target) == 2:
                entry, jumpback = str(target[0]), str(target[1])
                key = f"ref:{entry}"
                if key not in nodes:
                    ref = references.get(entry.split(".", 1)[0])
                    nodes[key] = Node(key, entry, "reference",
                                      ref_graph=(str(ref[0]), int(ref[1])) if ref else None)
                edges.append(Exit(source, key, label, "enter"))
                if jumpback in nodes:
                    edges.append(Exit(key, jumpback, "return", "return"))
                continue
            target = str(target)
            if target not in nodes or target == source:
                continue  # validation refuses both; a stored oddity is simply not drawn
            edges.append(Exit(source, target, label, kind))
    return Diagram(nodes, _dedupe(edges))


def _dedupe(edges: list[Exit]) -> list[Exit]:
    """One drawn edge per (source, target): several exits to the same state share it, labels joined."""
    merged: dict[tuple[str, str], Exit] = {}
    for e in edges:
        key = (e.source, e.target)
        if key in merged:
            if e.label:
                merged[key].label = f"{merged[key].label} | {e.label}" if merged[key].label else e.label
        else:
            merged[key] = Exit(e.source, e.target, e.label, e.kind)
    return list(merged.values())


class _Box:
    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _Path:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def layout(diagram: Diagram) -> Diagram:
    """Sugiyama layout of each connected component, components side by side; coordinates in SVG space."""
    for node in diagram.nodes.values():
        node.width = max(MIN_WIDTH, len(node.label) * CHAR_WIDTH + 28)
    vertices = {key: Vertex(key) for key in diagram.nodes}
    for key, v in vertices.items():
        v.view = _Box(diagram.nodes[key].width, diagram.nodes[key].height)
    gedges = []
    for e in diagram.edges:
        ge = GEdge(vertices[e.source], vertices[e.target])
        ge.view = _Path()
        gedges.append((e, ge))
    graph = GGraph(list(vertices.values()), [ge for _, ge in gedges])
    offset = MARGIN
    height = 0.0
    for component in graph.C:
        sugiyama = SugiyamaLayout(component)
        sugiyama.xspace, sugiyama.yspace = 40, 70
        sugiyama.route_edge = route_with_lines
        roots = [v for v in component.sV if diagram.nodes[v.data].initial]
        sugiyama.init_all(roots=roots or None)
        sugiyama.draw()
        boxes = list(component.sV)
        left = min(v.view.xy[0] - v.view.w / 2 for v in boxes)
        top = min(v.view.xy[1] - v.view.h / 2 for v in boxes)
        right = max(v.view.xy[0] + v.view.w / 2 for v in boxes)
        bottom = max(v.view.xy[1] + v.view.h / 2 for v in boxes)
        for e, ge in gedges:
            if ge in component.sE and ge.view.points:
                e.points = ge.view.points
                half = e.label_width / 2
                left = min([left, e.label_at[0] - half, *(x for x, _ in e.points)])
                right = max([right, e.label_at[0] + half, *(x for x, _ in e.points)])
        dx, dy = offset - left, MARGIN - top
        for v in boxes:
            node = diagram.nodes[v.data]
            node.x, node.y = v.view.xy[0] + dx, v.view.xy[1] + dy
        for e, ge in gedges:
            if ge in component.sE:
                e.points = [(x + dx, y + dy) for x, y in e.points]
        offset += (right - left) + COMPONENT_GAP
        height = max(height, bottom - top)
    diagram.width = offset - COMPONENT_GAP + MARGIN
    diagram.height = height + 2 * MARGIN
    return diagram
