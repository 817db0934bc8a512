// OIDC Front-Channel Logout 1.0 on the "logged out" page: once every app's hidden iframe has loaded (the window's
// load event waits for them), or after a few seconds at most, go on to the next page (the "Continuer" link).
(function () {
  "use strict";
  var link = document.getElementById("fc-continue");
  if (!link) { return; }
  var gone = false;
  function go() {
    if (!gone) { gone = true; window.location.replace(link.href); }
  }
  if (document.readyState === "complete") { go(); } else { window.addEventListener("load", go); }
  window.setTimeout(go, 5000);
}());
