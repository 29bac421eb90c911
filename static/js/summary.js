// VSION printable summary (templates/summary.html): a print button for tablets, which have no Ctrl+P.
// The page itself needs no script. The page's one module.
import { $ } from "./common.js";

const button = $("summary-print");
if (button && typeof window.print === "function") {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
