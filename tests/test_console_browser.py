"""The web console in a real browser (Debian's chromium driven by Playwright against a live server with the scripted
fake LLM): sign-in, switching organization and signing out; a streamed playground turn with its live actions; markup
shown as text; a recorded voice note and a played voice reply; the phone layout. Screenshots of every page land in the
artifacts folder (see ``tests/support/browser.py``). More in ``test_console_browser_insights.py`` and
``test_console_browser_operations.py``."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.browser import (  # noqa: F401  (fixtures: browser, org, page, server)
    CHROMIUM_ARGS,
    SKIP,
    ConsoleServer,
    Org,
    browser,
    chromium_path,
    org,
    page,
    server,
    shot,
    sign_in,
)

pytestmark = SKIP


def test_sign_in_switch_organization_and_sign_out(page: Any, server: ConsoleServer, org: Org) -> None:
    page.goto("/")  # GET / redirects to the console, which sends an anonymous visitor to sign in
    page.wait_for_url(re.compile(r"/console/signin\?next=%2Fconsole"))
    page.fill("#org_id", org.tenant.org_id)
    page.fill("#api_key", "wrong-key")
    page.fill("#api_key_id", org.tenant.api_key_id)
    page.fill("#user_id", org.tenant.user_id)
    page.click("#signin-submit")
    page.wait_for_selector("#flash:not([hidden])")
    assert "Sign-in failed (401)" in page.text_content("#flash")
    shot(page, "signin")

    page.fill("#api_key", org.tenant.api_key)
    page.click("#signin-submit")
    page.wait_for_url("**/console")
    page.wait_for_selector("#services li strong")
    assert page.text_content("#org-name") == org.tenant.org_id
    assert "Tertulia demo" in page.text_content("#services")
    stored = json.loads(page.evaluate("sessionStorage.getItem('tertulia.console')"))
    assert stored["current"] == org.tenant.org_id and stored["sessions"][org.tenant.org_id]["token"]
    assert page.evaluate("document.cookie") == ""  # never a cookie
    assert page.context.cookies() == []
    shot(page, "home")

    other = Org(server)
    page.select_option("#org-select", "__new__")
    page.wait_for_url("**/console/signin")
    page.fill("#org_id", other.tenant.org_id)
    page.fill("#api_key", other.tenant.api_key)
    page.fill("#api_key_id", other.tenant.api_key_id)
    page.fill("#user_id", other.tenant.user_id)
    page.click("#signin-submit")
    page.wait_for_url("**/console")
    page.wait_for_function("() => document.querySelector('#org-name').textContent.length > 0")
    assert page.text_content("#org-name") == other.tenant.org_id
    options = page.eval_on_selector_all("#org-select option", "os => os.map(o => o.value)")
    assert set(options) == {org.tenant.org_id, other.tenant.org_id, "__new__"}
    page.select_option("#org-select", org.tenant.org_id)  # switch back
    page.wait_for_function(f"() => document.querySelector('#org-name').textContent === '{org.tenant.org_id}'")
    other.http.close()

    page.click("#signout")
    page.wait_for_url("**/console/signin")
    assert page.evaluate("sessionStorage.getItem('tertulia.console')") is None
    page.goto("/console/conversations")
    page.wait_for_url(re.compile(r"/console/signin\?next="))
    assert page.errors == []


def test_playground_streams_a_turn_with_live_actions(page: Any, org: Org) -> None:
    from tertulia.demo import load_definition

    # a text-only agent (no voice config) on the demo's context graph
    agent_id = org.http.post("/organization/agent", json={"agent_name": "Text only"}).json()["id"]
    version = {k: v for k, v in load_definition()["agent"]["version"].items() if k != "voice_config"}
    assert org.http.post(f"/organization/agent/{agent_id}/", json=version).status_code == 201
    made = org.http.post("/service/", json={
        "service_hierarchical_state_machine_id": org.graph_id, "agent_id": agent_id, "name": "Text coach",
        "description": "The demo graph, text only.", "is_active": True, "keyterms": [], "tags": {}})
    assert made.status_code == 201, made.text
    sign_in(page, org, f"/console/playground?service={made.json()['id']}")
    page.wait_for_selector(f"#service option[value='{made.json()['id']}']", state="attached")
    assert page.input_value("#service") == made.json()["id"]
    page.wait_for_selector("#version-set option[value='release']", state="attached")
    assert page.input_value("#version-set") == "release"
    page.wait_for_selector("#voice-note-hint:not([hidden])")
    assert "no voice config" in page.text_content("#voice-note-hint")
    assert not page.is_enabled("#voice-reply")  # the agent has no voice config
    page.click("#start")
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.is_disabled("#record") and page.is_enabled("#say")
    opening = page.text_content("#transcript .msg.agent .text")
    assert opening.strip()
    titles = page.eval_on_selector_all("#timeline .act .title", "xs => xs.map(x => x.textContent)")
    assert "Dynamic behavior selected" in titles and "Action selected" in titles and "Reply complete" in titles
    assert titles[-1] == "Turn complete"
    assert page.get_attribute("#conversation-link a", "href").startswith("/console/conversations/")

    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})
    org.server.runtime.llm.script_text("EngageUser", "Great goal. Which days of the week suit you best for a run?")
    page.fill("#say", "I want to run three times a week.")
    page.click("#send")
    page.wait_for_selector("#transcript .msg.agent >> nth=1 >> .text[data-complete='true']")
    reply = page.locator("#transcript .msg.agent .text").nth(1)
    assert reply.text_content() == "Great goal. Which days of the week suit you best for a run?"
    assert int(reply.get_attribute("data-pieces")) > 3  # it arrived as several streamed pieces
    assert page.locator("#transcript .msg.user").count() == 1
    assert page.locator("#transcript .msg.user").first.text_content().endswith("I want to run three times a week.")
    titles = page.eval_on_selector_all("#timeline .act .title", "xs => xs.map(x => x.textContent)")
    for transition in ("welcome → clarify", "clarify → triage", "triage → plan"):
        assert transition in titles, titles
    times = page.eval_on_selector_all("#timeline .act .t", "xs => xs.map(x => parseInt(x.textContent))")
    assert times == sorted(times)
    assert page.text_content("#turn-status").startswith("complete in")
    shot(page, "playground")

    page.click("#finish")
    page.wait_for_selector("#flash.ok")
    assert page.text_content("#turn-status") == "conversation finished"
    assert page.is_disabled("#say") and page.is_enabled("#start")
    page.click("#start")  # start another
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.locator("#transcript .msg").count() == 1
    assert page.errors == []


def test_agent_markup_is_shown_as_text(page: Any, org: Org) -> None:
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><b>bold</b>'
    org.server.runtime.llm.script_text("EngageUser", hostile)
    sign_in(page, org, "/console/playground")
    page.wait_for_selector(f"#service option[value='{org.service_id}']", state="attached")
    page.click("#start")
    page.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
    assert page.text_content("#transcript .msg.agent .text") == hostile
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    href = page.get_attribute("#conversation-link a", "href")
    page.goto(href)
    page.wait_for_selector("#transcript .msg.agent .text")
    assert page.text_content("#transcript .msg.agent .text") == hostile
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    assert page.evaluate("window.__pwned") is None
    shot(page, "escaping")
    response = page.request.get("/console/playground")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert page.errors == []


def test_voice_note_in_and_voice_reply_out(browser: Any, server: ConsoleServer, org: Org, tmp_path) -> None:
    """Chromium's fake microphone plays a spoken WAV: the recorded note is transcribed by the server's speech-to-text,
    and an agent with a voice config answers with audio the page plays."""
    from tertulia.demo import load_definition
    from tertulia.speech.audio import encode_wav
    from tests.support.speech import spoken

    version = {**load_definition()["agent"]["version"], "voice_config": {"voice_id": "joe"}}
    assert org.http.post(f"/organization/agent/{org.agent_id}/", json=version).status_code == 201
    note = tmp_path / "note.wav"
    note.write_bytes(encode_wav(spoken("I would like to book a table for two people.")))
    org.server.runtime.llm.script_text("EngageUser", "Hello. I am Nia. What would you like to get done this week?")

    # a browser of its own: the fake microphone is a launch option
    chromium = browser.browser_type.launch(executable_path=chromium_path(), args=[
        *CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={note}", "--autoplay-policy=no-user-gesture-required"])
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, base_url=server.base_url)
    context.grant_permissions(["microphone"], origin=server.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(tab, org, "/console/playground")
        tab.wait_for_selector("#voice-note-hint:not([hidden])")
        assert "speaks with voice joe" in tab.text_content("#voice-note-hint")
        tab.check("#voice-reply")
        tab.click("#start")
        tab.wait_for_selector("#transcript .msg.agent .text[data-complete='true']", timeout=60_000)
        assert tab.text_content("#transcript .msg.agent .text") == \
            "Hello. I am Nia. What would you like to get done this week?"
        tab.wait_for_function("() => Number(document.querySelector('#player').dataset.played || 0) >= 1", timeout=30_000)
        assert int(tab.get_attribute("#player", "data-queued")) >= 2  # one audio piece per spoken sentence

        tab.click("#record")
        tab.wait_for_function("() => document.querySelector('#record').textContent === 'Stop and send'")
        tab.wait_for_timeout(3500)  # the fake microphone loops the spoken sentence
        tab.click("#record")
        tab.wait_for_selector("#transcript .msg.user", timeout=60_000)
        heard = tab.text_content("#transcript .msg.user .text").lower()
        assert "table for two" in heard, heard
        tab.wait_for_selector("#timeline .act[data-type='user-message-available'] .detail")
        assert tab.text_content("#timeline .act[data-type='user-message-available'] .detail") == \
            "voice note transcribed"
        tab.wait_for_selector("#transcript .msg.agent >> nth=1 >> .text[data-complete='true']", timeout=60_000)
        shot(tab, "playground-voice")
        assert errors == []
    finally:
        context.close()
        chromium.close()


def test_pages_fit_a_phone_screen(browser: Any, server: ConsoleServer, org: Org) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=server.base_url,
                                  is_mobile=True, has_touch=True)
    tab = context.new_page()
    try:
        sign_in(tab, org, "/console/playground")
        tab.wait_for_selector(f"#service option[value='{org.service_id}']", state="attached")
        tab.click("#start")
        tab.wait_for_selector("#transcript .msg.agent .text[data-complete='true']")
        for path in ("/console/playground", "/console/conversations", f"/console/graphs/{org.graph_id}",
                     "/console/operations"):
            if path != "/console/playground":
                tab.goto(path)
                tab.wait_for_load_state("networkidle")
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width}px wide on a 390px screen"
            shot(tab, "phone-" + path.split("/")[2])  # phone-playground, phone-conversations, phone-graphs, ...
        assert not tab.is_visible(".nav")  # the menu folds behind its toggle
        tab.click(".nav-toggle-label")
        assert tab.is_visible(".nav a[href='/console/playground']")
    finally:
        context.close()
