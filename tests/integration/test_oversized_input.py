"""Oversized bodies get 413 from the application; oversized or too many headers are refused by gunicorn (400)
with the worker still serving; a slowloris client does not stop others from logging in (`bridge serve`)."""
from __future__ import annotations

import socket
import threading

import requests

from tests.support.bridge import PORTAIL, AppClient


def test_an_oversized_body_to_token_is_a_413_json_error_not_a_500(bridge_factory):
    server = bridge_factory({"BRIDGE_MAX_BODY_BYTES": "65536"})
    assert server.app.config["MAX_CONTENT_LENGTH"] == 65536
    answer = requests.post(server.url + "/token", auth=(PORTAIL["client_id"], PORTAIL["client_secret"]),
                           data={"grant_type": "authorization_code", "code": "x" * 70_000}, timeout=10)
    assert answer.status_code == 413
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "invalid_request" and "65536 bytes" in answer.json()["error_description"]
    # just under the limit: the request reaches the token endpoint, which refuses the unknown code
    answer = requests.post(server.url + "/token", auth=(PORTAIL["client_id"], PORTAIL["client_secret"]),
                           data={"grant_type": "authorization_code", "code": "x" * 60_000}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_an_oversized_body_to_a_browser_page_is_a_413_page(bridge_factory):
    server = bridge_factory()  # default: 1 MiB
    answer = requests.post(server.url + "/authorize", data={"client_id": "x" * (1_100_000)}, timeout=10)
    assert answer.status_code == 413 and answer.headers["Content-Type"].startswith("text/html")
    assert 'data-error-code="request_too_large"' in answer.text and "1048576 bytes" in answer.text


def test_oversized_and_too_many_headers_are_refused_by_gunicorn_and_the_worker_goes_on(served_bridge_factory):
    served = served_bridge_factory()
    big = requests.get(served.url + "/healthz", headers={"X-Big": "a" * 20_000}, timeout=10)
    assert big.status_code in (400, 431)
    many = requests.get(served.url + "/healthz", headers={f"X-H{i}": "1" for i in range(80)}, timeout=10)
    assert many.status_code in (400, 431)
    # A forwarded client certificate (cps-tls behind the proxy) is several KiB and must pass.
    assert requests.get(served.url + "/healthz", headers={"X-SSL-Client-Cert": "b" * 6000}, timeout=10).ok
    for _ in range(4):  # every worker still serves
        assert requests.get(served.url + "/healthz", timeout=10).status_code == 200
    app = AppClient(served.url, **PORTAIL)
    result = app.login(requests.Session(), user="899700000002")
    assert app.exchange(result["code"])["access_token"]
    assert served.process.poll() is None


def test_a_slowloris_client_does_not_stop_others_from_logging_in(served_bridge_factory):
    served = served_bridge_factory({"BRIDGE_THREADS": "4"})  # 2 workers x 4 threads
    host, port = served.url.removeprefix("http://").split(":")
    stop, failures = threading.Event(), []
    slow = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # the headers never end

    def trickle():
        while not stop.wait(1.0):
            for sock in slow:
                try:
                    sock.sendall(b"a")  # one header byte per second
                except OSError as exc:
                    failures.append(exc)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        app = AppClient(served.url, **PORTAIL)
        for user in ("899700000002", "899700000001", "899700000002"):
            result = app.login(requests.Session(), user=user)
            tokens = app.exchange(result["code"])
            info = requests.get(served.url + "/userinfo", timeout=20,
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert info.status_code == 200 and info.json()["sub"] == user
        # The slow clients were still connected, unanswered, while the others logged in.
        for sock in slow:
            sock.setblocking(False)
            try:
                data = sock.recv(1)
            except BlockingIOError:
                data = None  # nothing received and not closed: the server is still waiting for the headers
            assert data is None
        assert not failures
    finally:
        stop.set()
        trickler.join(5)
        for sock in slow:
            sock.close()
