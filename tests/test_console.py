"""The web console over HTTP (no browser): pages and their security headers, the shipped assets' hygiene, the console
API for jobs (list, retry; permission and org scoping) and the context graph diagram (SVG, references, escaping)."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.orgs import make_tenant
from tests.support.postprocessing import drain, finish_conversation, make_service
from tests.test_context_graph import BASE, action, graph

PAGES = ["/console", "/console/signin", "/console/playground", "/console/conversations",
         f"/console/conversations/{'a' * 24}", "/console/graphs", f"/console/graphs/{'b' * 24}", "/console/agents",
         "/console/simulations", "/console/metrics", "/console/operations"]
STATIC = Path(__file__).resolve().parents[1] / "src" / "tertulia" / "console" / "static"
SVG = "{http://www.w3.org/2000/svg}"


async def test_root_redirects_to_the_console(client):
    for path in ("/", "/console/"):
        r = await client.get(path)
        assert r.status_code == 307 and r.headers["location"] == "/console"


async def test_pages_are_served_with_a_strict_policy_and_no_inline_code(client):
    for path in PAGES:
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        policy = r.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "frame-ancestors 'none'" in policy
        assert r.headers["x-content-type-options"] == "nosniff"
        scripts = re.findall(r"<script\b[^>]*>", r.text)
        assert scripts and all(" src=\"/console/static/js/" in s for s in scripts), path
        assert not re.search(r"<script\b[^>]*>(?!</script>)", r.text), f"{path} has an inline script"
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), f"{path} has an inline style or handler"
    page = await client.get(f"/console/graphs/{'b' * 24}")
    assert f'data-graph-id="{"b" * 24}"' in page.text
    assert (await client.get("/console/conversations/not-an-id")).status_code == 422
    api = await client.get("/healthz")
    assert "content-security-policy" not in api.headers  # only console responses carry it


async def test_assets_are_served_and_never_write_markup():
    scripts = sorted((STATIC / "js").glob("*.js"))
    assert len(scripts) >= 10
    for script in scripts:
        code = script.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in code, f"{script.name} uses {forbidden}"
    assert "document.cookie" not in "".join(s.read_text() for s in scripts)


async def test_static_files_carry_the_policy(client):
    for path in ("/console/static/js/core.js", "/console/static/console.css"):
        r = await client.get(path)
        assert r.status_code == 200 and "content-security-policy" in r.headers
    assert (await client.get("/console/static/../pages.py")).status_code == 404


async def _failed_job(runtime, tenant) -> str:
    service_id = await make_service(runtime.db, tenant.org_id)
    conv = await finish_conversation(runtime.db, tenant.org_id, tenant.user_id, service_id,
                                     [("Hello, what would you like to do?", ""),
                                      ("Which days suit you?", "Mondays and Thursdays.")])
    for _ in range(5):
        runtime.llm.fail("ExtractMemories")
    await drain(runtime, tenant.org_id)
    return conv.id


async def test_jobs_are_listed_per_organization_and_a_failed_one_is_retried(client, runtime, tenant, other_tenant):
    await _failed_job(runtime, tenant)
    url = f"/console/api/{tenant.org_id}/jobs"
    listed = (await client.get(url, headers=tenant.headers)).json()
    failed = [j for j in listed["jobs"] if j["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["kind"] == "post-processing.extract-memories"
    assert "scripted failure in ExtractMemories" in failed[0]["last_error"] and failed[0]["attempts"] == 5
    assert listed["counts"]["failed"] == 1 and listed["counts"]["succeeded"] >= 1
    only_failed = (await client.get(url + "?status=failed", headers=tenant.headers)).json()
    assert [j["id"] for j in only_failed["jobs"]] == [failed[0]["id"]]
    job_id = failed[0]["id"]

    # another organization neither sees nor retries it
    theirs = (await client.get(f"/console/api/{other_tenant.org_id}/jobs", headers=other_tenant.headers)).json()
    assert theirs["jobs"] == [] and theirs["counts"]["failed"] == 0
    r = await client.post(f"/console/api/{other_tenant.org_id}/jobs/{job_id}/retry", headers=other_tenant.headers)
    assert r.status_code == 404
    # a token of one organization is refused in another's path
    assert (await client.get(f"/console/api/{other_tenant.org_id}/jobs", headers=tenant.headers)).status_code == 401
    assert (await client.get(url)).status_code == 401
    assert (await client.post(f"/console/api/{tenant.org_id}/jobs/nope/retry", headers=tenant.headers)).status_code == 422
    assert (await client.get(url + "?status=lost", headers=tenant.headers)).status_code == 422

    retried = await client.post(f"{url}/{job_id}/retry", headers=tenant.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued" and retried.json()["attempts"] == 0
    again = await client.post(f"{url}/{job_id}/retry", headers=tenant.headers)
    assert again.status_code == 409 and "queued" in again.json()["detail"]
    await drain(runtime, tenant.org_id)  # the LLM answers this time
    done = (await client.get(url + "?status=succeeded&limit=200", headers=tenant.headers)).json()
    assert job_id in [j["id"] for j in done["jobs"]]
    assert (await client.post(f"{url}/{job_id}/retry", headers=tenant.headers)).status_code == 409


async def test_jobs_need_an_administrator(client, runtime):
    user = await make_tenant(runtime.db, client, role="DefaultUserRole")
    r = await client.get(f"/console/api/{user.org_id}/jobs", headers=user.headers)
    assert r.status_code == 403 and "Organization:ModifyOrganization" in r.json()["detail"]


async def _graph_with_reference(client, tenant) -> tuple[str, str]:
    h = tenant.headers
    ids = []
    for name in ("Sub", "Main"):
        r = await client.post(tenant.url(BASE), json={"state_machine_name": name}, headers=h)
        ids.append(r.json()["id"])
    sub_id, main_id = ids
    assert (await client.post(tenant.url(f"{BASE}/{sub_id}/"), json=graph(), headers=h)).status_code == 201
    body = copy.deepcopy(graph(references={"sub": [sub_id, 1]}))
    body["states"][0]["exit_conditions"] = [
        {"description": "Needs <b>help</b> & more", "next_state": ["sub.greet", "route"]},
        {"description": "Is done.", "next_state": "bye"},
    ]
    body["states"].append(action("spare", [{"description": "Never.", "next_state": "bye"}]))
    r = await client.post(tenant.url(f"{BASE}/{main_id}/"), json=body, headers=h)
    assert r.status_code == 201, r.text
    return main_id, sub_id


async def test_graph_diagram_is_svg_with_states_exits_and_references(client, tenant, other_tenant):
    main_id, sub_id = await _graph_with_reference(client, tenant)
    r = await client.get(f"/console/api/{tenant.org_id}/graphs/{main_id}/versions/1/diagram.svg", headers=tenant.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<b>" not in r.text and "Needs &lt;b&gt;help&lt;/b&gt; &amp; more" in r.text
    root = ET.fromstring(r.text)
    states = {g.get("data-state"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-state")}
    assert states["greet"] == "state state-action initial"
    assert states["bye"] == "state state-action terminal"
    assert states["route"] == "state state-decision" and states["think"] == "state state-reflection"
    assert states["recall"] == "state state-recall" and states["note"] == "state state-annotation"
    assert states["ref:sub.greet"] == "state state-reference"
    exits = {(g.get("data-from"), g.get("data-to")): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-from")}
    assert exits[("greet", "ref:sub.greet")] == "exit exit-enter"
    assert exits[("ref:sub.greet", "route")] == "exit exit-return"
    assert exits[("greet", "bye")] == "exit exit-exit"
    assert exits[("route", "think")] == "exit exit-exit" and exits[("think", "recall")] == "exit exit-next"
    assert exits[("spare", "bye")] == "exit exit-exit"  # an unreachable state is drawn too (its own component)
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == [f"/console/graphs/{sub_id}?version=1"]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert "Wants to think." in labels and "Needs <b>help</b> & more" in labels
    for g in root.iter(f"{SVG}g"):
        if g.get("data-state"):
            rect = g.find(f".//{SVG}rect")
            assert float(rect.get("x")) >= 0 and float(rect.get("y")) >= 0
            assert float(rect.get("x")) + float(rect.get("width")) <= float(root.get("width"))

    missing = await client.get(f"/console/api/{tenant.org_id}/graphs/{main_id}/versions/9/diagram.svg",
                               headers=tenant.headers)
    assert missing.status_code in (400, 404)
    theirs = await client.get(f"/console/api/{other_tenant.org_id}/graphs/{main_id}/versions/1/diagram.svg",
                              headers=other_tenant.headers)
    assert theirs.status_code == 404
    bad = await client.get(f"/console/api/{tenant.org_id}/graphs/{main_id}/versions/0/diagram.svg",
                           headers=tenant.headers)
    assert bad.status_code == 422


def test_every_console_asset_ships_in_the_wheel():
    """Each template and static file matches a ``[tool.setuptools.package-data]`` pattern (else the wheel lacks it)."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["tertulia"]
    package = root / "src" / "tertulia"
    assets = [p for p in (package / "console").rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]
    assert len(assets) > 20
    for asset in assets:
        relative = asset.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), f"{relative} is not package data"
