"""The console's HTML pages. Each is a server-rendered shell (navigation, forms, empty regions) plus one JavaScript
module that fetches the data with the signed-in user's token. Jinja2 autoescapes everything it renders; the only
request values a page carries are validated ids, passed to the script as ``data-*`` attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tertulia import __version__
from tertulia.core.ids import OBJECT_ID_PATTERN

router = APIRouter(prefix="/console", include_in_schema=False)

templates = Environment(
    loader=PackageLoader("tertulia.console", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

NAV = [
    ("home", "/console", "Home"),
    ("playground", "/console/playground", "Playground"),
    ("conversations", "/console/conversations", "Conversations"),
    ("graphs", "/console/graphs", "Context graphs"),
    ("agents", "/console/agents", "Agents & behaviors"),
    ("simulations", "/console/simulations", "Simulations"),
    ("metrics", "/console/metrics", "Metrics"),
    ("operations", "/console/operations", "Operations"),
]

ObjectId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]


def _page(template: str, title: str, nav: str, **data: str) -> HTMLResponse:
    html = templates.get_template(template).render(title=title, nav=nav, navigation=NAV, data=data,
                                                   version=__version__, script=template.removesuffix(".html"))
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@router.get("", response_class=HTMLResponse)
async def home() -> HTMLResponse:
    return _page("home.html", "Home", "home")


@router.get("/", include_in_schema=False)
async def home_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/signin", response_class=HTMLResponse)
async def signin() -> HTMLResponse:
    return _page("signin.html", "Sign in", "")


@router.get("/playground", response_class=HTMLResponse)
async def playground() -> HTMLResponse:
    return _page("playground.html", "Playground", "playground")


@router.get("/conversations", response_class=HTMLResponse)
async def conversations() -> HTMLResponse:
    return _page("conversations.html", "Conversations", "conversations")


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation(conversation_id: ObjectId) -> HTMLResponse:
    return _page("conversation.html", "Conversation", "conversations", conversation_id=conversation_id)


@router.get("/graphs", response_class=HTMLResponse)
async def graphs() -> HTMLResponse:
    return _page("graphs.html", "Context graphs", "graphs")


@router.get("/graphs/{graph_id}", response_class=HTMLResponse)
async def graph(graph_id: ObjectId) -> HTMLResponse:
    return _page("graph.html", "Context graph", "graphs", graph_id=graph_id)


@router.get("/agents", response_class=HTMLResponse)
async def agents() -> HTMLResponse:
    return _page("agents.html", "Agents & behaviors", "agents")


@router.get("/simulations", response_class=HTMLResponse)
async def simulations() -> HTMLResponse:
    return _page("simulations.html", "Simulations", "simulations")


@router.get("/metrics", response_class=HTMLResponse)
async def metrics() -> HTMLResponse:
    return _page("metrics.html", "Metrics", "metrics")


@router.get("/operations", response_class=HTMLResponse)
async def operations() -> HTMLResponse:
    return _page("operations.html", "Operations", "operations")
