"""One mapping from a refusal's code to its HTTP status (bridge.errors), whatever area raised it."""
from __future__ import annotations

import pytest

from bridge.errors import BridgeError
from bridge.pki import BadCertificate, CertificateRevoked
from bridge.upstream.cps import CpsError
from bridge.upstream.psc import PscError
from bridge.upstream.psc_claims import ClaimsError
from bridge.web.admin_auth import ConsoleError


@pytest.mark.parametrize("error, status", [
    (PscError("psc_timeout"), 504),                 # PSC too slow
    (PscError("psc_unreachable"), 502),             # PSC's own failure
    (PscError("state_invalid"), 400),               # a bad callback
    (CpsError("challenge_expired"), 400),           # our request was wrong, not the card
    (CpsError("proof_malformed"), 400),
    (CpsError("certificate_revoked"), 403),         # the card is not acceptable
    (CpsError("cps_tls_no_certificate"), 400),
    (ConsoleError("admin_forbidden"), 403),
    (ConsoleError("admin_disabled"), 404),
    (ConsoleError("admin_misconfigured"), 500),
    (ClaimsError("userinfo_invalid"), 502),
])
def test_each_code_maps_to_one_status(error, status):
    assert isinstance(error, BridgeError) and error.status == status


def test_pki_refusals_carry_their_code_and_detail():
    error = CertificateRevoked("serial 1234 on the CRL")
    assert (error.code, error.detail, error.status) == ("certificate_revoked", "serial 1234 on the CRL", 403)
    assert BadCertificate().code == "bad_certificate" and str(BadCertificate()) == "bad_certificate"
