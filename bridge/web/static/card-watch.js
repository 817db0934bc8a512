/* After a card login whose card is to be watched (templates/card_watch.html, docs/card.md « Retrait de la carte »).
 *
 * Hands the removal capability to the card agent on this workstation (POST {agent}/v1/watch {capability, reader}),
 * then goes on to the next page (the application, or the choice of activity) whatever the agent answered, and
 * after 3 s at the latest: an agent that cannot watch never blocks a login. The capability can only end this
 * session; it is never the PIN nor a proof of identity.
 * A static file because the page's CSP forbids inline scripts.
 */
(function () {
  "use strict";
  var root = document.getElementById("card-watch");
  if (!root) { return; }
  var next = root.getAttribute("data-next");
  var agentUrl = (root.getAttribute("data-agent-url") || "").replace(/\/+$/, "");
  var body = { capability: root.getAttribute("data-capability") };
  var reader = root.getAttribute("data-reader");
  if (reader) { body.reader = reader; }
  var gone = false;
  var controller = typeof AbortController === "function" ? new AbortController() : null;

  function go() {
    if (gone) { return; }
    gone = true;
    window.location.replace(next);   // replace: « back » must not land on this page (it answers a POST)
  }

  var timer = window.setTimeout(function () {
    if (controller) { controller.abort(); }
    go();
  }, 3000);
  try {
    fetch(agentUrl + "/v1/watch", {
      method: "POST", mode: "cors", credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      signal: controller ? controller.signal : undefined
    }).catch(function () { return null; }).then(function () {
      window.clearTimeout(timer);
      go();
    });
  } catch (e) {
    go();
  }
}());
