// The page frame shared by every screen: header, message area, and how errors are shown.

import { ApiError } from "./api";
import { fill, h } from "./dom";
import { clearSession, type Session } from "./session";

const app = () => document.getElementById("app")!;

let messages: HTMLElement | null = null;

/** Shows an error (an API problem or anything thrown) until dismissed. Never swallowed. */
export function showError(error: unknown, context?: string): void {
  const text = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  console.error(context ?? "error", error);
  if (!messages) {
    alert(text);
    return;
  }
  const item = h(
    "div",
    { class: "message message-error", role: "alert" },
    h("span", {}, context ? `${context}: ${text}` : text),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss message", onclick: () => item.remove() }, "×"),
  );
  messages.append(item);
}

/** A short, self-removing notice (announced politely). */
export function notice(text: string): void {
  if (!messages) return;
  const item = h("div", { class: "message message-info", role: "status" }, text);
  messages.append(item);
  window.setTimeout(() => item.remove(), 6000);
}

/** Lays out a screen: header (title, extra controls, the API docs link, who, sign out), messages, content. */
export function frame(options: {
  title: string;
  subtitle?: string;
  session?: Session | null;
  extra?: Node[];
}): HTMLElement {
  messages = h("div", { class: "messages", "aria-live": "assertive" });
  const main = h("main", { id: "main", tabindex: "-1" });
  const who = options.session
    ? h(
        "span",
        { class: "who" },
        options.session.role === "contractor" ? "Contractor" : options.session.role === "dispatcher" ? "Dispatcher" : "Admin",
        h("small", { title: options.session.sub }, options.session.sub),
      )
    : null;
  const signOut = options.session
    ? h(
        "button",
        {
          type: "button",
          class: "button-quiet",
          onclick: () => {
            clearSession();
            navigate("/");
          },
        },
        "Sign out",
      )
    : null;
  fill(
    app(),
    h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "/", "aria-label": "Dispatch home" }, h("span", { class: "logo", "aria-hidden": "true" }), "Dispatch"),
      h("div", { class: "title" }, h("h1", {}, options.title), options.subtitle ? h("span", { class: "subtitle" }, options.subtitle) : null),
      h(
        "div",
        { class: "header-tools" },
        ...(options.extra ?? []),
        // The API reference (Swagger UI at /api/v1/docs) picks up this tab's session token.
        h("a", { class: "docs-link", href: "/api/v1/docs", title: "API reference: every endpoint, with Try it out" }, "API docs"),
        who,
        signOut,
      ),
    ),
    messages,
    main,
  );
  document.title = `${options.title} · Dispatch`;
  return main;
}

/** Client-side navigation (the server answers every deep link with the same page). */
export function navigate(path: string): void {
  if (location.pathname !== path) history.pushState(null, "", path);
  window.dispatchEvent(new Event("dispatch:navigate"));
}

/**
 * For a region's pages: whether `session` may dispatch `regionId`; if not, fills `main` with a
 * "Not your region" card (the API would refuse everything anyway).
 */
export function mayDispatch(session: Session, regionId: string, main: HTMLElement): boolean {
  if (session.role === "admin" || (session.role === "dispatcher" && session.regions.includes(regionId))) return true;
  main.append(
    h(
      "section",
      { class: "card narrow" },
      h("h2", {}, "Not your region"),
      h("p", {}, `You are not a dispatcher of ${regionId}.`),
      h("button", { type: "button", class: "button-primary", onclick: () => navigate("/") }, "Back to sign-in"),
    ),
  );
  return false;
}
