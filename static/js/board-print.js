// VSION calibration page: the board's settings (type, inner corners, square and marker sizes),
// the picture of what the two numbers count, and the board's print at true scale (PDF or SVG,
// A4, A3 or a custom paper). Imported by calibration.js, which calls initBoard().
import { $, api, csrfToken, t } from "./common.js";
import { readOnly } from "./calibration-session.js";

let ctx = null;

/** A refusal from the board or print routes ({error, code, params}) in the page's language. */
function refusal(data, fallback) {
  const p = (data && data.params) || {};
  const texts = {
    half_turn: () => t("brd_err_half_turn", "A {cols} x {rows} checkerboard looks the same turned by half a turn (columns + rows is even): the cameras could not tell its first corner from its last. Use {cols1} x {rows} or {cols} x {rows1} inner corners, or a ChArUco board.", p),
    marker_size: () => t("brd_err_marker", "ChArUco markers of {marker} mm do not fit in squares of {square} mm: make the markers smaller than the squares (about 75 %).", p),
    markers: () => t("brd_err_markers", "This ChArUco board needs {markers} markers and its dictionary has {size}: use fewer corners.", p),
    too_big: () => t("prt_err_too_big", "The board ({width} x {height} mm) does not fit on {paper_width} x {paper_height} mm paper with its margins: use squares of at most {best} mm, fewer corners, or a larger paper.", p),
  };
  const code = data && data.code;
  return texts[code] ? texts[code]() : (data && data.error) || fallback;
}

function show(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

function fields() {
  return { type: $("board-type"), cols: $("board-cols"), rows: $("board-rows"), square: $("board-square"), marker: $("board-marker") };
}

/** The form as the API's payload (the marker only for a ChArUco board). */
function formBoard() {
  const f = fields();
  const board = { type: f.type.value, cols: Number(f.cols.value), rows: Number(f.rows.value), square_mm: Number(f.square.value) };
  if (board.type === "charuco" && f.marker.value !== "") board.marker_mm = Number(f.marker.value);
  return board;
}

function fill(board) {
  const f = fields();
  f.type.value = board.type || "checkerboard";
  f.cols.value = board.cols;
  f.rows.value = board.rows;
  f.square.value = board.square_mm;
  f.marker.value = board.marker_mm || "";
  $("board-summary").textContent = t("brd_summary", "{cols} x {rows} inner corners, squares of {square} mm", { cols: board.cols, rows: board.rows, square: board.square_mm });
  showType();
}

function showType() {
  $("board-marker-field").hidden = $("board-type").value !== "charuco";
  drawPicture();
}

/** The picture of what "cols x rows" counts, for the numbers typed (drawn by the server, translated). */
function drawPicture() {
  const f = fields(), img = $("board-corners");
  const cols = Math.round(Number(f.cols.value)), rows = Math.round(Number(f.rows.value));
  if (!(cols >= 2 && cols <= 64 && rows >= 2 && rows <= 64)) return;
  img.src = img.dataset.src + "?cols=" + cols + "&rows=" + rows;
}

async function saveBoard(event) {
  event.preventDefault();
  show($("board-error"), "");
  show($("board-done"), "");
  const board = formBoard();
  if (![board.cols, board.rows, board.square_mm].every(Number.isFinite)) {
    show($("board-error"), t("brd_err_numbers", "Give the inner corners across and down, and the square side in mm."));
    return;
  }
  $("board-save").disabled = true;
  const r = await api("PUT", "/api/calibration/board", board);
  render();
  if (!r.ok) { show($("board-error"), refusal(r.data, r.message)); return; }
  fill(r.data);
  show($("board-done"), t("brd_saved", "Board saved: the wizard uses it from now on. Print it below if it is new."));
  ctx.onBoard(r.data);
}

/** Download the board in force at true scale; a refusal (too big for the paper) is explained. */
async function download(event) {
  event.preventDefault();
  show($("print-error"), "");
  const params = new URLSearchParams({ format: $("print-format").value, paper: $("print-paper").value });
  if (params.get("paper") === "custom") {
    params.set("width_mm", $("print-width").value);
    params.set("height_mm", $("print-height").value);
  }
  let reply;
  try {
    reply = await fetch("/api/calibration/board/print?" + params, { credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } });
  } catch (e) {
    show($("print-error"), t("wc_offline", "The server cannot be reached: check the connection and try again."));
    return;
  }
  if (!reply.ok) {
    const data = await reply.json().catch(() => null);
    show($("print-error"), refusal(data, reply.statusText));
    return;
  }
  const name = (/filename="([^"]+)"/.exec(reply.headers.get("Content-Disposition") || "") || [])[1] || "board." + params.get("format");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await reply.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

function showPaper() {
  const custom = $("print-paper").value === "custom";
  $("print-width-field").hidden = !custom;
  $("print-height-field").hidden = !custom;
}

/** Enable "Use this board" unless someone else drives the wizard. */
export function render() {
  if (ctx) $("board-save").disabled = readOnly();
}

/** Wire the board card. `context`: {board (in force), onBoard(board) (the wizard uses a new board)}. */
export function initBoard(context) {
  ctx = context;
  fill(context.board);
  $("board-type").addEventListener("change", showType);
  ["board-cols", "board-rows"].forEach((id) => $(id).addEventListener("input", drawPicture));
  $("board-form").addEventListener("submit", saveBoard);
  $("print-paper").addEventListener("change", showPaper);
  $("print-form").addEventListener("submit", download);
  showPaper();
  render();
}
