"""Live card + PIN self-check: a virtual CPS card in pcscd's vpcd reader, the real card agent, the lab bridge's
/login/cps pages. It needs pcscd and the vpcd driver on the machine generating the report; without them the
check is "not run" with the reason (never a pass)."""
from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from bridge.attest.model import SelfCheck
from bridge.policy import Service
from bridge.sandbox.selfcheck.lab import PUBLIC_URL, Lab

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")   # vpcd slots 0 and 1: ports P and P + 1


def _t(lang: str, fr: str, en: str) -> str:
    return en if lang == "en" else fr


class Unavailable(Exception):
    """The evidence cannot be produced on this machine; args = (French, English) reasons."""


def _free_slot() -> tuple[str, int]:
    """(reader, vpcd port) of an empty virtual slot. A card already in slot 0 (the demo's) is left alone."""
    if not (shutil.which("pcscd") or Path("/usr/sbin/pcscd").exists()):
        raise Unavailable("pcscd n'est pas installé sur cette machine", "pcscd is not installed on this machine")
    if not VPCD_DRIVER.exists():
        raise Unavailable("le pilote du lecteur virtuel vpcd (vsmartcard-vpcd) n'est pas installé",
                          "the vpcd virtual reader driver (vsmartcard-vpcd) is not installed")
    try:
        from bridge.card import pcsc
        from bridge.card.errors import CardError

        found = {str(r): r for r in pcsc._all_readers()}
    except ImportError:
        raise Unavailable("pyscard n'est pas installé", "pyscard is not installed") from None
    except (CardError, Exception):
        raise Unavailable("pcscd ne répond pas (service arrêté ?)", "pcscd does not answer (not running?)") from None
    base = int(os.environ.get("BRIDGE_ATTEST_VPCD_PORT", "35963"))
    for slot, name in enumerate(READERS):
        if name in found and not pcsc.card_present(found[name]):
            return name, base + slot
    if not any(name in found for name in READERS):
        raise Unavailable("pcscd ne présente pas le lecteur virtuel vpcd", "pcscd offers no vpcd virtual reader")
    raise Unavailable("les deux emplacements du lecteur virtuel sont occupés", "both virtual reader slots are busy")


def _wait_present(reader: str, timeout: float = 10) -> None:
    from bridge.card import pcsc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in pcsc._all_readers() if str(r) == reader]
        if found and pcsc.card_present(found[0]):
            return
        time.sleep(0.1)
    raise Unavailable(f"pcscd ne voit pas la carte virtuelle dans « {reader} »",
                      f"pcscd does not see the virtual card in '{reader}'")


def card_pin_login(lab: Lab, service: Service, holder: str, lang: str) -> SelfCheck:
    """Card + PIN login of `holder`'s virtual card, through the agent, up to the app's code."""
    title = _t(lang, "Connexion par carte CPS et code PIN (carte virtuelle)", "CPS card + PIN login (virtual card)")
    expected = _t(lang, "code délivré à l'application ; ligne d'audit login_succeeded avec mie cps-pin ; le code "
                        "PIN ne va qu'à la carte", "code issued to the app; audit line login_succeeded with mie "
                        "cps-pin; the PIN goes to the card only")
    try:
        reader, port = _free_slot()
    except Unavailable as exc:
        return SelfCheck("card_pin_login", service.service, title, expected, _t(
            lang, f"preuve non produite : {exc.args[0]}. Le parcours carte + PIN n'a pas été exercé par ce rapport.",
            f"evidence not produced: {exc.args[1]}. The card + PIN path was not exercised by this report."), None)
    from bridge.card.agent import make_server
    from bridge.sandbox.card import VirtualCard

    pin = f"{secrets.randbelow(10 ** 4):04d}"
    material = lab.pki.card(holder)
    card = VirtualCard(material, pin=pin)
    agent = None
    mark = lab.audit_mark()
    try:
        try:
            card.insert(port)
        except OSError as exc:
            raise Unavailable(f"le lecteur virtuel vpcd n'écoute pas sur le port {port} (BRIDGE_ATTEST_VPCD_PORT) : "
                              f"{exc.strerror or exc}", f"the vpcd virtual reader does not listen on port {port} "
                              f"(BRIDGE_ATTEST_VPCD_PORT): {exc.strerror or exc}") from None
        _wait_present(reader)
        agent = make_server([PUBLIC_URL], port=0, reader=reader)
        threading.Thread(target=agent.serve_forever, daemon=True, name="attest-card-agent").start()
        outcome = _login(lab, service.clients[0], agent, pin)
    except Unavailable as exc:
        return SelfCheck("card_pin_login", service.service, title, expected,
                         _t(lang, f"preuve non produite : {exc.args[0]}", f"evidence not produced: {exc.args[1]}"),
                         None)
    finally:
        if agent is not None:
            agent.shutdown()
            agent.server_close()
        if card.inserted:
            card.remove()
    lines = lab.audit_since(mark)
    succeeded = [x for x in lines if x["event"] == "login_succeeded" and x.get("mie") == "cps-pin"
                 and x.get("service") == service.service]
    steps = [_t(lang, f"carte CPS virtuelle {material.serial} ({holder}) dans « {reader} », agent carte sur "
                      f"127.0.0.1:{agent.server_address[1]}", f"virtual CPS card {material.serial} ({holder}) in "
                      f"'{reader}', card agent on 127.0.0.1:{agent.server_address[1]}")] + outcome.steps
    code = outcome.kind == "code"
    observed = (_t(lang, "code délivré", "code issued") if code else f"HTTP {outcome.status}") + (
        ", login_succeeded cps-pin" if succeeded else "")
    return SelfCheck("card_pin_login", service.service, title, expected, observed, code and bool(succeeded),
                     audit_lines=tuple({k: x.get(k, "") for k in ("time", "seq", "event", "outcome", "service",
                                                                   "client", "subject", "mie", "reason")}
                                       for x in lines), steps=tuple(steps))


def _login(lab: Lab, client, agent, pin: str):
    """What templates/cps_login.html and its script do: challenge, agent signs with the PIN, proof posted."""
    web, _ = lab.browser()
    page = lab.authorize(web, client, means="cps-pin")
    if page.kind != "page" or urlsplit(page.location).path != "/login/cps":
        return page
    import re
    from html import unescape

    txn = re.search(r'name="txn" value="([^"]*)"', page.text).group(1)
    csrf = unescape(re.search(r'name="csrf" value="([^"]*)"', page.text).group(1))
    steps = page.steps + ["/login/cps/challenge (POST)"]
    issued = web.post("/login/cps/challenge", json={"txn": unescape(txn), "csrf": csrf})
    if issued.status_code != 200:
        page.status, page.steps = issued.status_code, steps
        return page
    challenge = issued.get_json()
    agent_url = f"http://127.0.0.1:{agent.server_address[1]}"
    signed = requests.post(f"{agent_url}/v1/sign", headers={"Origin": challenge["origin"]}, timeout=30,
                           json={"challenge": challenge["challenge"], "origin": challenge["origin"], "pin": pin})
    steps.append(f"agent /v1/sign → HTTP {signed.status_code}")
    if signed.status_code != 200:
        page.status, page.steps = signed.status_code, steps
        return page
    answer = signed.json()
    response = web.post("/login/cps/proof", data={
        "txn": unescape(txn), "csrf": csrf, "challenge": challenge["challenge"], "certificate": answer["certificate"],
        "signature": answer["signature"], "card_type": answer["card"]["type"] or "",
        "card_serial": answer["card"]["serial"]})
    steps.append("/login/cps/proof (POST)")
    watch = re.search(r'id="card-watch"[^>]*data-next="([^"]*)"', response.get_data(as_text=True)) \
        if response.status_code == 200 else None
    if watch:   # the card removal page (bridge/web/removal.py): it goes on to the same place
        steps.append("card watch page")
        location = unescape(watch.group(1))
    elif response.status_code in (301, 302, 303):
        location = response.headers["Location"]
    else:
        page.status, page.steps = response.status_code, steps
        return page
    return lab._follow(web, None, client.redirect_uris[0], urljoin(PUBLIC_URL, location), None, None, steps)
