/* Direct CPS login page (templates/cps_login.html, docs/card.md).
 *
 * 1. Ask the card agent on this workstation (GET {agent}/v1/status) for every reader, slot and card. One CPS card:
 *    show it (holder, « Numéro de carte », tries left). Several: list them (holder and card number) and let the
 *    user choose. A carte Vitale alone: say that no CPS card is there.
 * 2. On submit: get a challenge from the bridge (same origin, txn + CSRF token), send {challenge, origin, pin,
 *    reader} to the agent ONLY, then post the agent's proof (certificate + signature, never the PIN) and the reader
 *    it used (for the card removal watch) to the bridge with a normal form submission, so the bridge's redirect to
 *    the application is an ordinary navigation.
 * A static file because the page's CSP forbids inline scripts. Every text it shows comes from two JSON data
 * blocks the template fills in the page's language (cps-messages: error codes; cps-states: progress).
 */
(function () {
  "use strict";
  var root = document.getElementById("cps-login");
  if (!root) { return; }
  var messages = JSON.parse(document.getElementById("cps-messages").textContent);
  var agentUrl = root.getAttribute("data-agent-url").replace(/\/+$/, "");
  var challengeUrl = root.getAttribute("data-challenge-url");
  var stateText = document.getElementById("cps-state");
  var cardInfo = document.getElementById("cps-card");
  var pinForm = document.getElementById("cps-pin-form");
  var pinInput = document.getElementById("cps-pin");
  var pinError = document.getElementById("cps-pin-error");
  var submit = document.getElementById("cps-submit");
  var proofForm = document.getElementById("cps-proof");
  var noAgent = document.getElementById("cps-no-agent");
  var chooser = document.getElementById("cps-choose");
  var choices = document.getElementById("cps-choices");
  var STATES = JSON.parse(document.getElementById("cps-states").textContent);
  var timer = null;
  var busy = false;
  var reader = null;       // the PC/SC reader (slot) of the card shown: the one the agent must sign with
  var chosen = null;       // the slot the user picked when several CPS cards are there

  function text(code, tries) {
    if (code === "wrong_pin" && tries === 1) { code = "wrong_pin_last"; }
    var value = messages[code] || messages["default"];
    return value.replace("{tries}", String(tries));
  }

  function setState(name, message) {
    stateText.setAttribute("data-state", name);
    stateText.textContent = message || STATES[name] || text(name);
  }

  function showPinError(code, tries) {
    pinError.setAttribute("data-error-code", code || "");
    pinError.textContent = code ? text(code, tries) : "";
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, delay);
  }

  function agentFetch(path, options, timeoutMs) {
    var controller = new AbortController();
    var abort = window.setTimeout(function () { controller.abort(); }, timeoutMs);
    var init = Object.assign({ mode: "cors", credentials: "omit", cache: "no-store", signal: controller.signal },
                             options || {});
    return fetch(agentUrl + path, init).finally(function () { window.clearTimeout(abort); });
  }

  function showCard(card, tries) {
    card = card || {};
    document.getElementById("cps-card-type").textContent = card.type || "?";
    document.getElementById("cps-card-holder").textContent = card.holder || "?";
    document.getElementById("cps-card-serial").textContent = card.logical_number || card.serial || "?";
    if (tries !== undefined) {
      document.getElementById("cps-card-tries").textContent = tries === null ? "?" : String(tries);
    }
    cardInfo.hidden = false;
  }

  function cpsSlots(status) {
    var found = [];
    (status.readers || []).forEach(function (r) {
      (r.slots || []).forEach(function (slot) { if (slot.card && slot.card.cps) { found.push(slot); } });
    });
    return found;
  }

  function listChoices(slots) {
    // Rebuilt only when the set of cards changes, so a choice being made is not lost under the user's hand.
    var key = slots.map(function (slot) { return slot.reader + "|" + slot.card.serial; }).join(",");
    if (choices.getAttribute("data-key") === key) { return; }
    choices.setAttribute("data-key", key);
    choices.textContent = "";
    slots.forEach(function (slot, i) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "radio";
      input.name = "cps-card-choice";
      input.id = "cps-choice-" + i;
      input.value = slot.reader;
      input.checked = slot.reader === chosen;
      input.addEventListener("change", function () { chosen = slot.reader; refresh(); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + (slot.card.holder || "?") + " — " + STATES.card_number +
        " " + (slot.card.logical_number || slot.card.serial || "?")));
      label.setAttribute("data-reader", slot.reader);
      choices.appendChild(label);
    });
  }

  function enablePin(enabled) {
    pinForm.hidden = false;
    pinInput.disabled = !enabled;
    submit.disabled = !enabled;
  }

  function ready(card, tries) {
    showCard(card, tries);
    if (tries === 0) {
      enablePin(false);
      setState("card_blocked", text("card_blocked"));
      return;
    }
    var wasDisabled = pinInput.disabled || pinForm.hidden;
    enablePin(true);
    setState("ready");
    if (wasDisabled) { pinInput.focus(); }
  }

  function several(status) {
    var slots = cpsSlots(status);
    listChoices(slots);
    chooser.hidden = false;
    var picked = slots.filter(function (slot) { return slot.reader === chosen; })[0];
    if (!picked) {
      chosen = null;
      reader = null;
      cardInfo.hidden = true;
      enablePin(false);
      setState("several_cards", text("several_cards"));
      schedule(3000);   // a card may leave meanwhile
      return;
    }
    reader = picked.reader;
    ready(picked.card, picked.card.pin_tries_left);
  }

  function refresh() {
    if (busy) { return; }
    agentFetch("/v1/status", {}, 15000).then(function (response) {
      return response.json().then(function (status) { return { ok: response.ok, status: status }; });
    }).then(function (result) {
      var status = result.status;
      noAgent.hidden = true;
      if (result.ok && status.error === "several_cards") { several(status); return; }
      chooser.hidden = true;
      chosen = null;
      if (!result.ok || status.error) {
        reader = null;
        cardInfo.hidden = true;
        enablePin(false);
        setState(status.error || "card_error", text(status.error || "card_error"));
        if (status.error === "origin_not_allowed") { noAgent.hidden = false; return; }
        schedule(3000);   // no reader, no card, only a carte Vitale...: look again, the user is probably on it
        return;
      }
      reader = status.selected || status.reader || null;
      ready(status.card, status.pin_tries_left);
    }).catch(function () {
      // Nothing listens (or the answer is not the agent's): show how to install and start it.
      reader = null;
      cardInfo.hidden = true;
      chooser.hidden = true;
      enablePin(false);
      pinForm.hidden = true;
      noAgent.hidden = false;
      setState("agent_unreachable", text("agent_unreachable"));
      schedule(5000);
    });
  }

  function field(name, value) {
    proofForm.querySelector("input[name='" + name + "']").value = value || "";
  }

  function finish(code, tries) {
    busy = false;
    pinInput.value = "";
    showPinError(code, tries);
    enablePin(true);
    pinInput.focus();
    refresh();
  }

  pinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    var pin = pinInput.value;
    if (!/^[0-9]{4}$/.test(pin)) { showPinError("pin_format"); pinInput.focus(); return; }
    busy = true;
    window.clearTimeout(timer);
    showPinError("");
    enablePin(false);
    setState("signing");
    var txn = proofForm.querySelector("input[name='txn']").value;
    var csrf = proofForm.querySelector("input[name='csrf']").value;
    fetch(challengeUrl, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ txn: txn, csrf: csrf })
    }).then(function (response) {
      return response.json().catch(function () {
        // Not our JSON: an error page (store outage, server error) answered instead.
        return { error: response.status === 503 ? "store_unavailable" : "server_error" };
      }).then(function (body) {
        if (!response.ok || body.error) { throw { code: body.error || "server_error" }; }
        return body;
      });
    }).then(function (issued) {
      var request = { challenge: issued.challenge, origin: issued.origin, pin: pin };
      if (reader) { request.reader = reader; }
      pin = "";
      return agentFetch("/v1/sign", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request)
      }, 60000).catch(function () { throw { code: "agent_unreachable" }; }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok || body.error) { throw { code: body.error || "card_error", tries: body.tries_left }; }
          return { issued: issued, proof: body };
        });
      });
    }).then(function (result) {
      var card = result.proof.card || {};
      pinInput.value = "";
      showCard(card);   // the card that signed: the one in the slot now, which the server checks anyway
      setState("sending");
      field("challenge", result.issued.challenge);
      field("certificate", result.proof.certificate);
      field("signature", result.proof.signature);
      field("card_type", card.type);
      field("card_serial", card.serial);
      field("card_reader", card.reader);
      proofForm.submit();
    }).catch(function (error) {
      finish(error && error.code ? error.code : "server_error", error ? error.tries : undefined);
    });
  });

  document.getElementById("cps-retry").addEventListener("click", function () {
    setState("checking");
    refresh();
  });

  refresh();
}());
