"""Render a laid-out ``Diagram`` as SVG (built with ElementTree, so every name and label is escaped as XML text).

Styling is by class only (the console's stylesheet; the Content-Security-Policy forbids inline styles):
``state state-<type>`` (+ ``initial``/``terminal``), ``exit exit-<kind>``. Nodes carry ``data-state``, edges
``data-from``/``data-to``, so the page can highlight a conversation's path without touching the markup's text.
Reference nodes link to the referenced graph's page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tertulia.console.diagram import Diagram, Exit, Node

SVG_NS = "http://www.w3.org/2000/svg"
TYPE_LABELS = {"tool-call": "tool call", "reference": "other graph"}


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _defs(root: ET.Element) -> None:
    defs = ET.SubElement(root, "defs")
    for name in ("arrow", "arrow-on"):
        marker = ET.SubElement(defs, "marker", id=name, viewBox="0 0 10 10", refX="9", refY="5",
                               markerWidth="9", markerHeight="9", markerUnits="userSpaceOnUse",
                               orient="auto-start-reverse")
        ET.SubElement(marker, "path", d="M 0 0 L 10 5 L 0 10 z", attrib={"class": name})


def _node(parent: ET.Element, node: Node, graph_href: str | None) -> None:
    classes = ["state", f"state-{node.kind}"] + (["initial"] if node.initial else []) + (
        ["terminal"] if node.terminal else [])
    group = ET.SubElement(parent, "g", attrib={"class": " ".join(classes), "data-state": node.key})
    if node.ref_graph is not None:
        group.set("data-ref-graph", node.ref_graph[0])
    title = ET.SubElement(group, "title")
    title.text = f"{node.label} ({node.kind})" + (" · initial" if node.initial else "") + (
        " · terminal" if node.terminal else "")
    host = group
    if node.kind == "reference" and node.ref_graph is not None and graph_href is not None:
        host = ET.SubElement(group, "a", href=f"{graph_href}/{node.ref_graph[0]}?version={node.ref_graph[1]}")
    x, y = node.x - node.width / 2, node.y - node.height / 2
    shape = {"x": _fmt(x), "y": _fmt(y), "width": _fmt(node.width), "height": _fmt(node.height)}
    if node.kind == "decision":
        ET.SubElement(host, "rect", attrib={**shape, "rx": "22", "class": "box"})
    else:
        ET.SubElement(host, "rect", attrib={**shape, "rx": "6", "class": "box"})
    if node.terminal:
        inner = {"x": _fmt(x + 3), "y": _fmt(y + 3), "width": _fmt(node.width - 6), "height": _fmt(node.height - 6)}
        ET.SubElement(host, "rect", attrib={**inner, "rx": "4", "class": "inner"})
    name = ET.SubElement(host, "text", attrib={"x": _fmt(node.x), "y": _fmt(node.y - 2), "class": "name"})
    name.text = node.label
    kind = ET.SubElement(host, "text", attrib={"x": _fmt(node.x), "y": _fmt(node.y + 14), "class": "kind"})
    kind.text = TYPE_LABELS.get(node.kind, node.kind) + (
        f" · v{node.ref_graph[1]}" if node.ref_graph is not None else "")
    if node.initial:
        ET.SubElement(parent, "circle", attrib={"cx": _fmt(x - 10), "cy": _fmt(node.y), "r": "5", "class": "start"})


def _edge(parent: ET.Element, edge: Exit) -> None:
    group = ET.SubElement(parent, "g", attrib={"class": f"exit exit-{edge.kind}", "data-from": edge.source,
                                               "data-to": edge.target})
    if edge.label:
        title = ET.SubElement(group, "title")
        title.text = edge.label
    d = "M " + " L ".join(f"{_fmt(x)} {_fmt(y)}" for x, y in edge.points)
    ET.SubElement(group, "path", attrib={"d": d, "class": "line", "marker-end": "url(#arrow)"})
    if edge.label:
        lx, ly = edge.label_at
        text, width = edge.short_label, edge.label_width
        ET.SubElement(group, "rect", attrib={"x": _fmt(lx - width / 2), "y": _fmt(ly - 9), "width": _fmt(width),
                                             "height": "16", "rx": "3", "class": "label-bg"})
        label = ET.SubElement(group, "text", attrib={"x": _fmt(lx), "y": _fmt(ly + 3), "class": "label"})
        label.text = text


def render(diagram: Diagram, *, title: str = "", graph_href: str | None = "/console/graphs") -> str:
    """The SVG document (a string) of a laid-out diagram."""
    root = ET.Element("svg", attrib={
        "xmlns": SVG_NS, "viewBox": f"0 0 {_fmt(diagram.width)} {_fmt(diagram.height)}",
        "width": _fmt(diagram.width), "height": _fmt(diagram.height), "class": "graph-diagram", "role": "img",
    })
    if title:
        ET.SubElement(root, "title").text = title
    _defs(root)
    edges = ET.SubElement(root, "g", attrib={"class": "edges"})
    for edge in diagram.edges:
        if edge.points:
            _edge(edges, edge)
    nodes = ET.SubElement(root, "g", attrib={"class": "nodes"})
    for node in diagram.nodes.values():
        _node(nodes, node, graph_href)
    return ET.tostring(root, encoding="unicode")
