// Entry point: picks the screen from the path. The server answers `/`, `/dispatch/…`,
// `/board/…`, `/audit/…` and `/contractor/…` with this same page, so deep links and reloads work.

import "./style.css";
import { setUnauthenticatedHandler } from "./api";
import { showAudit } from "./audit";
import { showBoard } from "./board";
import { showConsole } from "./console";
import { showContractor } from "./contractor";
import { loadSession } from "./session";
import { showSignIn } from "./signin";

let teardown: (() => void) | undefined;

function route(): void {
  teardown?.();
  teardown = undefined;
  const path = location.pathname;
  const session = loadSession();
  const dispatch = path.match(/^\/dispatch\/([a-z0-9_-]+)(?:\/jobs\/([0-9a-f-]{36}))?\/?$/);
  const contractor = path.match(/^\/contractor\/([0-9a-f-]{36})\/?$/);
  const board = path.match(/^\/board\/([a-z0-9_-]+)\/?$/);
  const audit = path.match(/^\/audit\/([0-9a-f-]{36})\/?$/);
  if (dispatch && session) {
    teardown = showConsole(session, dispatch[1]!, dispatch[2]);
  } else if (board && session) {
    teardown = showBoard(session, board[1]!);
  } else if (audit && session) {
    showAudit(session, audit[1]!);
  } else if (contractor && session) {
    teardown = showContractor(session, contractor[1]!);
  } else {
    showSignIn(session, dispatch || contractor || board || audit ? "Sign in to open that page." : undefined);
  }
}

setUnauthenticatedHandler((message) => {
  teardown?.();
  teardown = undefined;
  history.pushState(null, "", "/");
  showSignIn(null, message);
});
window.addEventListener("popstate", route);
window.addEventListener("dispatch:navigate", route);
route();
