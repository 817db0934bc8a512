"""Support by card number in the admin console, over HTTP with a real Redis: the printed number on sessions and
audit lines, the search (what a barcode scanner types), and « carte perdue / opposée »: the card's sessions end with
a back-channel logout, the card is refused at cps-pin and cps-tls login, by certificate or by reported number,
until the CRL lists it; lifting; the bad inputs."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from bridge.sandbox.testpki import CAS
from bridge.sessions import COOKIE
from tests.integration.test_cps_login import TELESERVICE, CpsBrowser, assert_refused
from tests.support.bridge import at
from tests.support.console import console_login, csrf_of, start_stack
from tests.support.html import parse
from tests.support.redis import RedisServer

SERVICE = "teleservice-historique"


@pytest.fixture
def stack(tmp_path, redis_url, psc_emulator_factory, receiver):
    server = start_stack(tmp_path, redis_url, psc_emulator_factory, receiver.url,
                         env_extra={"BRIDGE_TRUSTED_PROXIES": "127.0.0.1/32", "BRIDGE_CLIENT_CERT_HEADER": "X-Cert"})
    yield server
    server.stop()


@pytest.fixture
def admin(stack):
    browser = requests.Session()
    assert console_login(browser, stack.url).status_code == 200
    return browser


def audit_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.bridge.settings.audit_path.read_text().splitlines()]


def fingerprint(material) -> str:
    return material.certificate.fingerprint(hashes.SHA256()).hex()


def card_login(stack, receiver, material, serial: str | None = None) -> tuple[CpsBrowser, requests.Response]:
    """A cps-pin login to the teleservice with a proof signed by the card's key; `serial`: what the agent says."""
    browser = CpsBrowser(stack, client=at(receiver.url, TELESERVICE))
    if serial is None:
        return browser, browser.login_with(material)
    from tests.integration.test_cps_login import sign

    browser.start()
    browser.page()
    issued = browser.new_challenge()
    signature = sign(material, issued["challenge"], issued["origin"])
    return browser, browser.post_proof(issued["challenge"], material.cert_der, signature,
                                       {"type": material.kind, "serial": serial})


def logged_in(stack, receiver, material) -> CpsBrowser:
    browser, response = card_login(stack, receiver, material)
    browser.code(response)
    return browser


def cards_page(admin, stack, number: str = "") -> requests.Response:
    return admin.get(f"{stack.url}/admin/cards/", params={"number": number} if number else {}, timeout=10)


def oppose(admin, stack, number: str, **override) -> requests.Response:
    csrf = csrf_of(cards_page(admin, stack).text)
    return admin.post(f"{stack.url}/admin/cards/oppose", data={"csrf": csrf, "number": number, **override},
                      timeout=30)


def lift(admin, stack, number: str) -> requests.Response:
    csrf = csrf_of(cards_page(admin, stack).text)
    return admin.post(f"{stack.url}/admin/cards/lift", data={"csrf": csrf, "number": number}, timeout=30)


def tls_login(stack, receiver, material) -> tuple[CpsBrowser, requests.Response]:
    services = stack.bridge.policies.services
    services[SERVICE] = replace(services[SERVICE], allowed_mie=("psc", "cps-pin", "cps-tls"))
    browser = CpsBrowser(stack, client=at(receiver.url, TELESERVICE))
    browser.start()
    header = quote(material.certificate.public_bytes(serialization.Encoding.PEM).decode(), safe="")
    return browser, browser.http.get(f"{stack.url}/login/cps-tls", params={"txn": browser.txn}, timeout=10,
                                     headers={"X-Cert": header}, allow_redirects=False)


# --- the number on the console and the search ----------------------------------------------------------------------
def test_the_card_number_is_on_sessions_and_audit_lines_and_a_scanned_barcode_finds_the_card(stack, receiver,
                                                                                             test_pki, admin):
    material = test_pki.card("899700000001")
    logged_in(stack, receiver, material)
    succeeded = [x for x in audit_lines(stack) if x["event"] == "login_succeeded" and x["mie"] == "cps-pin"][-1]
    details = succeeded["details"]
    assert details["card_number"] == material.serial and details["cert_sha256"] == fingerprint(material)
    assert details["cert_serial"] == format(material.certificate.serial_number, "x")
    assert details["cert_issuer"] == material.certificate.issuer.rfc4514_string()

    sessions = parse(admin.get(f"{stack.url}/admin/", timeout=10).text)
    assert sessions.find("dd", data_card_number=material.serial).text == material.serial
    audit = parse(admin.get(f"{stack.url}/admin/audit", params={"event": "login_succeeded"}, timeout=10).text)
    assert audit.find("a", data_card_number=material.serial) is not None

    empty = cards_page(admin, stack)
    field = parse(empty.text).find("input", id="f-number")
    assert "autofocus" in field.attrs and parse(empty.text).find("label", for_="f-number").text == "Numéro de carte"
    for typed in (f"*{material.serial}*", f" {material.serial[:2]} {material.serial[2:6]}-{material.serial[6:]} "):
        page = cards_page(admin, stack, typed)
        assert page.status_code == 200
        card = parse(page.text).find("section", id="card")
        assert card.attr("data-card") == material.serial
        assert card.find("tr", data_subject="899700000001") is not None            # its session
        assert card.find("tr", data_event="login_succeeded") is not None            # its audit lines
    other = cards_page(admin, stack, "2999999999")
    assert 'id="no-card-sessions"' in other.text and "0 ligne(s) trouvée(s)" in unescape(other.text)


@pytest.mark.parametrize("typed,code", [("24001A0649", "card_number_characters"), ("240014064", "card_number_length"),
                                        ("24001406491", "card_number_length"), ("<script>", "card_number_characters")])
def test_a_number_with_letters_or_of_the_wrong_length_is_explained(stack, admin, typed, code):
    page = cards_page(admin, stack, typed)
    assert page.status_code == 400
    error = parse(page.text).find("p", id="number-error")
    assert error.attr("data-error") == code and error.attr("role") == "alert" and error.text.strip()
    assert parse(page.text).find("input", id="f-number").attr("aria-invalid") == "true"
    refused = oppose(admin, stack, typed)
    assert refused.status_code == 400 and f'data-error="{code}"' in refused.text
    assert stack.bridge.cps.oppositions.list() == []


# --- declaring a card lost or opposed ------------------------------------------------------------------------------
def test_an_opposed_card_loses_its_sessions_and_is_refused_until_the_opposition_is_lifted(stack, receiver, test_pki,
                                                                                         admin):
    lost, other = test_pki.card("899700000001"), test_pki.card("899700000002", given_name="JEANNE")
    victim, neighbour = logged_in(stack, receiver, lost), logged_in(stack, receiver, other)
    page = cards_page(admin, stack, lost.serial)
    confirm = parse(page.text).find("button", data_oppose=lost.serial)
    assert confirm.parent.parent.tag == "details"      # behind a disclosure: a confirmation step
    assert "1 session(s) ouverte(s) avec cette carte seront terminées" in unescape(page.text)

    done = oppose(admin, stack, lost.serial)
    assert done.status_code == 200 and 'data-done="opposed"' in done.text and "1 session(s) terminée(s)" in done.text
    assert stack.bridge.sessions.load(victim.http.cookies[COOKIE]) is None
    assert stack.bridge.sessions.load(neighbour.http.cookies[COOKIE]) is not None     # another card: untouched
    stack.bridge.backchannel.wait()
    assert len(receiver.tokens_for("/teleservice/backchannel-logout")) == 1
    lines = audit_lines(stack)
    action = next(x for x in lines if x["event"] == "admin_action" and x["details"]["command"] == "oppose_card")
    assert action["subject"] == "899700000001" and action["details"]["card_number"] == lost.serial   # the admin
    assert action["details"]["certificates"] == [fingerprint(lost)]
    ended = [x for x in lines if x["event"] == "logout" and x["reason"] == "card_opposed"]
    assert [x["subject"] for x in ended] == ["899700000001"] and ended[0]["client"] == "teleservice-web"

    browser, refused = card_login(stack, receiver, lost)
    assert_refused(browser, refused, "card_opposed", 403)
    assert "déclarée perdue ou opposée auprès de cet établissement" in unescape(refused.text)
    assert "support informatique" in unescape(refused.text)
    card_line = [x for x in audit_lines(stack) if x["event"] == "card_opposed"][-1]
    assert card_line["outcome"] == "denied" and card_line["subject"] == "899700000001"
    assert card_line["details"]["matched"] == "certificate" and card_line["details"]["declared_by"] == "899700000001"
    failed = [x for x in audit_lines(stack) if x["event"] == "login_failed"][-1]
    assert failed["reason"] == "card_opposed" and failed["request_id"] == card_line["request_id"]

    assert lift(admin, stack, lost.serial).status_code == 200
    lifted = next(x for x in audit_lines(stack) if x["event"] == "admin_action"
                  and x["details"]["command"] == "lift_card_opposition")
    assert lifted["subject"] == "899700000001" and lifted["details"]["card_number"] == lost.serial
    logged_in(stack, receiver, lost)


def test_an_unknown_number_is_opposed_and_refuses_the_card_when_it_appears_whatever_it_reports(stack, receiver,
                                                                                               test_pki, admin):
    lost = test_pki.card("899700000005")
    done = oppose(admin, stack, lost.serial)
    assert "0 session(s) terminée(s)" in done.text
    assert parse(done.text).find("p", id="opposition").find(data_state="number_only") is not None

    browser, refused = card_login(stack, receiver, lost)       # the agent reports the opposed number
    assert_refused(browser, refused, "card_opposed", 403)
    assert [x["details"]["matched"] for x in audit_lines(stack) if x["event"] == "card_opposed"] == ["number"]
    # The number is not authenticated: the certificate it came with is opposed from now on.
    row = parse(cards_page(admin, stack, lost.serial).text).find("tr", data_cert=fingerprint(lost))
    assert row is not None and "présentée à une connexion" in row.text
    for reported in ("2999999999", ""):                         # a tampered agent lies, or says nothing
        browser, refused = card_login(stack, receiver, lost, serial=reported)
        assert_refused(browser, refused, "card_opposed", 403)
    browser, refused = tls_login(stack, receiver, lost)         # cps-tls: no agent, the certificate alone
    assert_refused(browser, refused, "card_opposed", 403)
    assert [x["details"]["matched"] for x in audit_lines(stack)
            if x["event"] == "card_opposed"] == ["number", "certificate", "certificate", "certificate"]


def test_the_certificates_of_the_audit_trail_are_opposed_with_the_number(stack, receiver, test_pki, admin):
    lost = test_pki.card("899700000006")
    browser = logged_in(stack, receiver, lost)
    stack.bridge.sessions.end(browser.http.cookies[COOKIE].partition(".")[0], "logout")   # no live session left
    oppose(admin, stack, lost.serial)
    row = parse(cards_page(admin, stack, lost.serial).text).find("tr", data_cert=fingerprint(lost))
    assert row is not None and "journal d'audit" in row.text
    browser, refused = card_login(stack, receiver, lost, serial="2000000001")   # another number: refused all the same
    assert_refused(browser, refused, "card_opposed", 403)


def write_crl_listing(test_pki, directory, material):
    """The operator's CRL directory once IGC-Santé has revoked `material` (the other CAs' CRLs as before)."""
    test_pki.crl_dir(directory)
    issuer = CAS["fort-personnes"]
    ca, key = test_pki.ca("fort-personnes"), test_pki.key(issuer.key_label)
    now = test_pki.anchor
    revoked = (x509.RevokedCertificateBuilder().serial_number(material.certificate.serial_number)
               .revocation_date(now - timedelta(hours=1)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
           .next_update(now + timedelta(days=7)).add_revoked_certificate(revoked).sign(key, hashes.SHA256()))
    (directory / issuer.crl_file).write_bytes(crl.public_bytes(serialization.Encoding.DER))


def test_once_the_crl_lists_the_card_the_console_says_so_and_the_opposition_may_be_lifted(stack, receiver, test_pki,
                                                                                         admin, tmp_path):
    lost = test_pki.card("899700000007")
    logged_in(stack, receiver, lost)
    oppose(admin, stack, lost.serial)
    listing = parse(cards_page(admin, stack).text).find("tr", data_opposition=lost.serial)
    assert listing.find(data_state="opposed") is not None
    write_crl_listing(test_pki, tmp_path / "crl-now", lost)
    stack.bridge.cps.trust.crls.crl_dir = tmp_path / "crl-now"      # the daily CRL refresh brings the revocation
    page = parse(cards_page(admin, stack, lost.serial).text)
    assert page.find("p", id="opposition").find(data_state="crl_listed").text == "listée dans la LCR"
    assert page.find("tr", data_cert=fingerprint(lost)).find(data_listed="yes") is not None
    assert "La LCR refuse déjà cette carte" in page.find("button", data_lift=lost.serial).parent.text
    assert lift(admin, stack, lost.serial).status_code == 200
    browser, refused = card_login(stack, receiver, lost)
    assert_refused(browser, refused, "certificate_revoked", 403)   # the CRL refuses it now
    lifted = [x for x in audit_lines(stack) if x["event"] == "admin_action"][-1]
    assert lifted["details"]["command"] == "lift_card_opposition" and lifted["details"]["crl_listed"] is True


# --- refusals --------------------------------------------------------------------------------------------------------
def test_lifting_an_opposition_that_does_not_exist_says_so(stack, admin):
    page = lift(admin, stack, "2400140649")
    assert page.status_code == 404 and 'data-error="not_opposed"' in page.text
    assert "Aucune opposition en cours pour cette carte" in unescape(page.text)
    assert not [x for x in audit_lines(stack) if x["event"] == "admin_action"
                and x["details"].get("command") == "lift_card_opposition"]


def test_without_the_csrf_token_or_as_a_non_admin_nothing_is_opposed(stack, receiver, test_pki, admin):
    lost = test_pki.card("899700000008")
    browser = logged_in(stack, receiver, lost)
    refused = admin.post(f"{stack.url}/admin/cards/oppose", data={"number": lost.serial}, timeout=10)
    assert refused.status_code == 403 and 'data-error-code="csrf"' in refused.text
    forged = admin.post(f"{stack.url}/admin/cards/oppose", data={"number": lost.serial, "csrf": "guess"}, timeout=10)
    assert forged.status_code == 403
    outsider = requests.Session()
    assert console_login(outsider, stack.url, user="899700000002").status_code == 403   # not in `admins`
    denied = outsider.post(f"{stack.url}/admin/cards/oppose", data={"number": lost.serial, "csrf": "x"}, timeout=10)
    assert denied.status_code == 403 and 'data-error-code="admin_login_required"' in denied.text
    assert requests.get(f"{stack.url}/admin/cards/", allow_redirects=False, timeout=10).status_code == 302
    assert stack.bridge.cps.oppositions.list() == []
    assert stack.bridge.sessions.load(browser.http.cookies[COOKIE]) is not None
    denials = [x for x in audit_lines(stack) if x["event"] == "admin_action" and x["outcome"] == "denied"]
    assert len(denials) == 2 and {x["reason"] for x in denials} == {"csrf"}


def test_a_declaration_while_the_store_is_down_fails_closed(tmp_path, psc_emulator_factory, receiver, test_pki):
    own = RedisServer(tmp_path).start()
    try:
        server = start_stack(tmp_path, own.url, psc_emulator_factory, receiver.url)
        admin = requests.Session()
        console_login(admin, server.url)
        csrf = csrf_of(cards_page(admin, server).text)
        own.stop()
        down = admin.post(f"{server.url}/admin/cards/oppose", data={"csrf": csrf, "number": "2400140649"},
                          timeout=30)
        assert down.status_code == 503 and 'data-error-code="store_unavailable"' in down.text
        own.start()
        assert server.bridge.cps.oppositions.list() == []
        server.stop()
    finally:
        own.stop()
