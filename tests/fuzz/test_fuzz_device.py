"""The device authorization grant's endpoints never answer 500, whatever the parameters (memory store, shipped
policies with the poste-de-soins kiosk): /device_authorization, /device (GET and the form), the device_code grant."""
from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.test_fuzz_parsers import web  # noqa: F401 - the fixture

KIOSK = "Basic " + base64.b64encode(b"poste-de-soins:poste-de-soins-secret").decode()
VALUES = st.text(max_size=80) | st.sampled_from(["urn:ietf:params:oauth:grant-type:device_code", "openid", "start",
                                                 "poste-de-soins", "BCDF-GHJK", "bcdf ghjk", "x" * 200, "\u00a0"])
PARAMS = st.dictionaries(st.sampled_from(["grant_type", "device_code", "client_id", "scope", "user_code", "csrf",
                                          "step"]) | st.text(max_size=10), VALUES, max_size=6)


@given(st.sampled_from(["/device_authorization", "/device", "/token"]), st.sampled_from(["GET", "POST"]), PARAMS,
       st.sampled_from([None, KIOSK, "Basic !!!"]))
def test_device_endpoints_never_answer_500(web, path, method, params, authorization):  # noqa: F811
    headers = {"Authorization": authorization} if authorization else {}
    if path == "/token" and method == "POST":
        params = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", **params}
    response = web.get(path, query_string=params, headers=headers) if method == "GET" else \
        web.post(path, data=params, headers=headers)
    assert response.status_code < 500, (path, method, params, response.status_code)
