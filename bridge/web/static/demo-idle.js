// Demo apps: open the "vous allez être déconnecté" page shortly before the service's idle timeout, and count
// down on that page. The server computed the remaining seconds, so the browser's clock does not matter.
(function () {
  "use strict";
  var box = document.querySelector("[data-idle-remaining]");
  if (box) {
    var wait = Number(box.dataset.idleRemaining) - Number(box.dataset.warnBefore);
    setTimeout(function () { window.location.assign(box.dataset.warningUrl); }, Math.max(0, wait) * 1000);
  }
  var counter = document.getElementById("countdown");
  if (counter) {
    var left = Number(counter.dataset.remaining);
    var tick = function () {
      counter.textContent = Math.floor(left / 60) + " min " + ("0" + (left % 60)).slice(-2) + " s";
      if (left <= 0) { window.location.assign(counter.dataset.expiredUrl); return; }
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  }
})();
