"""bridge.upstream.environment: a pooled PSC session merges requests' environment settings once per origin, with
the same answer requests itself gives (proxies, NO_PROXY, REQUESTS_CA_BUNDLE)."""
import requests
import requests.sessions

from bridge.upstream.environment import environment_once

URLS = ["https://auth.esw.esante.gouv.fr/token", "https://auth.esw.esante.gouv.fr/userinfo",
        "http://127.0.0.1:8080/jwks", "https://psc.internal.example/x"]


def test_same_settings_as_requests(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3129")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    plain, pooled = requests.Session(), environment_once(requests.Session())
    for url in URLS * 2:
        for verify, cert in ((None, None), ("/ca.pem", ("/c.pem", "/k.pem")), (True, None)):
            assert pooled.merge_environment_settings(url, {}, True, verify, cert) == \
                plain.merge_environment_settings(url, {}, True, verify, cert)
    assert pooled.merge_environment_settings(URLS[0], {}, True, None, None)["proxies"]["https"] == \
        "http://proxy.example:3128"
    assert pooled.merge_environment_settings(URLS[2], {}, True, None, None)["proxies"] == {}   # NO_PROXY


def test_environment_read_once_per_origin(monkeypatch):
    reads = []
    original = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: reads.append(a) or original(*a, **k))
    pooled = environment_once(requests.Session())
    for _ in range(5):
        for url in URLS[:2]:   # one origin, two paths
            pooled.merge_environment_settings(url, {}, True, None, None)
    assert len(reads) == 1
    pooled.merge_environment_settings(URLS[2], {}, True, None, None)
    assert len(reads) == 2


def test_each_call_gets_its_own_proxies(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    pooled = environment_once(requests.Session())
    first = pooled.merge_environment_settings(URLS[0], {}, True, None, None)
    first["proxies"]["https"] = "http://changed"
    assert pooled.merge_environment_settings(URLS[0], {}, True, None, None)["proxies"]["https"] == \
        "http://proxy.example:3128"


def test_a_session_setting_changed_later_is_honoured(monkeypatch):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    pooled = environment_once(requests.Session())
    assert pooled.merge_environment_settings(URLS[0], {}, True, None, None)["verify"] is True
    pooled.verify = "/other-ca.pem"
    assert pooled.merge_environment_settings(URLS[0], {}, True, None, None)["verify"] == "/other-ca.pem"
