"""A real chromium logs out of the demo portal: the bridge's "logged out" page makes the browser load each
front-channel logout URI of the session's apps (OIDC Front-Channel Logout 1.0) in hidden iframes — the demo DPI's,
which clears its session, and a test app's, recorded by a tiny server — then goes on to the portal."""
from __future__ import annotations

import hashlib
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support.axe import check_page
from tests.support.bridge import AppClient, rewrite_policies, start_bridge

pytestmark = pytest.mark.e2e
RECORDER_POLICY = """\
service: fc-recorder
name: Front-channel recorder
clients:
  - client_id: fc-recorder
    name: Application de test
    client_secret_sha256: {hash}
    redirect_uris: [{url}/callback]
    frontchannel_logout_uri: {url}/fc-logout?app=rec
allowed_mie: [psc]
"""


class Recorder:
    """A tiny app that records every GET it receives (path and query) and answers an empty page."""

    def __init__(self):
        self.gets: list[tuple[str, dict]] = []

        @Request.application
        def app(request):
            self.gets.append((request.path, {k: request.args.getlist(k) for k in request.args}))
            return Response("", status=200)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, path: str, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [query for got, query in self.gets if got == path]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no GET {path} (got {self.gets})")


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory):
    """Bridge + PSC emulator + demo apps + the recorder app, policies pointing at their free ports."""
    from bridge.sandbox.apps import create_demo_apps
    from bridge.sandbox.psc import EmulatedClient

    recorder = Recorder()
    apps_server = make_server("127.0.0.1", 0, None, threaded=True)
    apps_url = f"http://127.0.0.1:{apps_server.port}"
    extra = {"fc-recorder.yaml": RECORDER_POLICY.format(hash=hashlib.sha256(b"rec-secret").hexdigest(),
                                                        url=recorder.url)}
    policies = rewrite_policies(tmp_path / "policies", apps_url, extra)
    bridge_reserved = make_server("127.0.0.1", 0, None, threaded=True)
    bridge_url = f"http://127.0.0.1:{bridge_reserved.port}"
    psc = psc_emulator_factory(clients=[EmulatedClient(
        client_id="bridge-test", secret="bridge-test-secret", redirect_uris=[f"{bridge_url}/psc/callback"],
        post_logout_redirect_uris=[f"{bridge_url}/logout/done"])])
    bridge = start_bridge({"BRIDGE_STORE_URL": redis_url, "BRIDGE_KEYS_DIR": str(tmp_path / "keys"),
                           "BRIDGE_POLICIES_DIR": str(policies), "BRIDGE_PSC_DISCOVERY_URL": psc.discovery_url,
                           "BRIDGE_PSC_CLIENT_ID": "bridge-test", "BRIDGE_PSC_CLIENT_SECRET": "bridge-test-secret"},
                          reserved=bridge_reserved)
    apps_server.app = create_demo_apps(bridge_url, apps_url)
    threading.Thread(target=apps_server.serve_forever, daemon=True).start()
    yield {"apps": apps_url, "bridge": bridge_url, "recorder": recorder}
    apps_server.shutdown()
    recorder.server.shutdown()
    bridge.stop()


def log_in_three_apps(stack, page) -> str:
    """The portal (PSC emulator), then the DPI and the recorder app by SSO; returns the DPI's sid."""
    page.goto(f"{stack['apps']}/portail/")
    page.click("#login")
    page.wait_for_selector("input[name=user]")
    page.check("input[name=user][value='899700000002']")
    page.click("button[type=submit]")
    page.wait_for_selector("#welcome")
    page.goto(f"{stack['apps']}/dpi/")
    page.click("#login")
    page.wait_for_selector("#welcome")
    recorder = AppClient(stack["bridge"], "fc-recorder", "rec-secret", f"{stack['recorder'].url}/callback")
    page.goto(recorder.authorize_url())
    assert "code" in stack["recorder"].wait_for("/callback")    # the recorder app got its code: in the session
    page.goto(f"{stack['apps']}/portail/")
    sid = page.inner_text("[data-claim=sid]")
    assert sid
    return sid


def test_logout_loads_the_front_channel_uris_then_goes_on_to_the_portal(stack, page):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    sid = log_in_three_apps(stack, page)
    page.click("form[action$='/portail/logout'] button")
    page.wait_for_selector("#ended")                                # back at the portal, on its own
    assert page.url == f"{stack['apps']}/portail/"
    query = stack["recorder"].wait_for("/fc-logout")
    assert query["app"] == ["rec"] and query["iss"] == [stack["bridge"]] and query["sid"] == [sid]
    dpi = [url for url in requested if urlsplit(url).path == "/dpi/frontchannel-logout"]
    assert len(dpi) == 1 and parse_qs(urlsplit(dpi[0]).query)["sid"] == query["sid"]
    # The DPI's session in this browser was cleared by its front-channel URI.
    page.goto(f"{stack['apps']}/dpi/")
    assert page.get_attribute("#ended", "data-ended") == "frontchannel"
    assert page.locator("#welcome").count() == 0


def test_the_logged_out_page_is_accessible_and_works_without_its_script(stack, page):
    page.route("**/static/frontchannel.js", lambda route: route.abort())
    log_in_three_apps(stack, page)
    page.click("form[action$='/portail/logout'] button")
    page.wait_for_selector("[data-logged-out]")
    stack["recorder"].wait_for("/fc-logout")
    frames = page.locator("iframe")
    assert frames.count() == 2 and all(not frames.nth(i).is_visible() for i in range(2))
    assert all(frames.nth(i).get_attribute("title") for i in range(2))
    check_page(page)
    page.click("#fc-continue")                                      # the link the script would have followed
    page.wait_for_selector("#ended")
    assert page.url == f"{stack['apps']}/portail/"
