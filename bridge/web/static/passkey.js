/* Passkeys (local-fido, docs/passkeys.md): the login page (templates/fido_login.html) and the enrolment form of
 * « Mes moyens de connexion » (templates/means.html).
 *
 * Both ask the bridge for WebAuthn options as JSON (binary fields in base64url), turn them into ArrayBuffers for
 * navigator.credentials.get / create, turn the answer back into JSON (base64url) and post it with an ordinary form
 * submission: the bridge's redirect (to the application, or back to the list) is then a normal navigation.
 * A static file because the pages' CSP forbids inline scripts; its texts come from a JSON data block.
 */
(function () {
  "use strict";

  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) { return null; }
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function credentialJson(credential) {
    var r = credential.response, response = {clientDataJSON: toText(r.clientDataJSON)};
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify({id: credential.id, rawId: toText(credential.rawId), type: credential.type,
                           response: response, clientExtensionResults: credential.getClientExtensionResults()});
  }

  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
                       body: JSON.stringify(body)})
      .then(function (answer) {
        return answer.json().then(function (data) {
          if (!answer.ok) { throw new Error(data.message || data.error || String(answer.status)); }
          return data;
        });
      });
  }

  function setup(root) {
    var texts = JSON.parse(document.getElementById("passkey-texts").textContent);
    var form = document.getElementById(root.getAttribute("data-form"));
    var button = document.getElementById(root.getAttribute("data-button"));
    var status = document.getElementById("passkey-status");
    var mode = root.getAttribute("data-mode");   // login | enrol
    function say(text) { status.textContent = text; }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(texts.unsupported);
      button.disabled = true;
      return;
    }
    function run(event) {
      if (event) { event.preventDefault(); }
      button.disabled = true;
      say(texts.working);
      post(root.getAttribute("data-options-url"), {txn: form.elements.txn ? form.elements.txn.value : undefined,
                                                  csrf: form.elements.csrf.value})
        .then(function (options) {
          options.challenge = toBuffer(options.challenge);
          (options.allowCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
          if (mode === "enrol") {
            options.user.id = toBuffer(options.user.id);
            (options.excludeCredentials || []).forEach(function (c) { c.id = toBuffer(c.id); });
            return navigator.credentials.create({publicKey: options});
          }
          return navigator.credentials.get({publicKey: options});
        })
        .then(function (credential) {
          if (!credential) { throw new Error(texts.cancelled); }
          form.elements.credential.value = credentialJson(credential);
          say(texts.sending);
          form.submit();
        })
        .catch(function (error) {
          say(error && error.name && error.name !== "Error" ? texts.cancelled : (error.message || texts.cancelled));
          button.disabled = false;
        });
    }
    if (mode === "enrol") { form.addEventListener("submit", run); } else { button.addEventListener("click", run); }
  }

  var root = document.getElementById("passkey");
  if (root) { setup(root); }
})();
