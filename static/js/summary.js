// VSION printable summary (templates/summary.html): a print button for tablets, which have no Ctrl+P.
// The page itself needs no script.
(function () {
  "use strict";
  const button = document.getElementById("summary-print");
  if (!button || typeof window.print !== "function") return;
  button.hidden = false;
  button.addEventListener("click", () => window.print());
})();
