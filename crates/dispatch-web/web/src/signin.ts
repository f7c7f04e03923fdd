// Sign-in. In development mode (the server has no secret of its own) a newcomer picks
// "dispatcher of region X" or "contractor Y" from the demo data and the server mints a
// short-lived token; otherwise the page asks for a token.

import { api, ApiError } from "./api";
import { fill, h } from "./dom";
import type { DevIdentities, DevToken, DevTokenRequest } from "./generated/api";
import { homeOf, saveSession, sessionFromToken, type Session } from "./session";
import { frame, navigate, showError } from "./ui";

export function showSignIn(current: Session | null, message?: string): void {
  const main = frame({ title: "Sign in", subtitle: "Dispatcher console and contractor view" });
  if (message) showError(message);
  const body = h("div", { class: "signin" }, h("p", { class: "muted" }, "Loading who you can be…"));
  main.append(body);
  if (current) {
    main.prepend(
      h(
        "p",
        { class: "continue" },
        `You are signed in as ${current.sub}. `,
        h("a", { href: homeOf(current), onclick: link(homeOf(current)) }, "Continue"),
      ),
    );
  }
  void api<DevIdentities>("GET", "/dev/identities", undefined, "")
    .then((identities) => fill(body, devChoices(identities)))
    .catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) {
        fill(body, tokenForm());
      } else {
        fill(body, tokenForm());
        showError(error, "Could not load the demo identities");
      }
    });
}

function link(path: string) {
  return (event: Event) => {
    event.preventDefault();
    navigate(path);
  };
}

async function signInAs(request: DevTokenRequest): Promise<void> {
  try {
    const minted = await api<DevToken>("POST", "/dev/token", request, "");
    const session = sessionFromToken(minted.token);
    saveSession(session);
    navigate(homeOf(session));
  } catch (error) {
    showError(error, "Sign-in failed");
  }
}

function devChoices(identities: DevIdentities): Node {
  if (identities.regions.length === 0) {
    return h(
      "section",
      { class: "card" },
      h("h2", {}, "No data yet"),
      h("p", {}, "The database has no regions. Load the demo data: ", h("code", {}, "dispatch serve --demo"), " (or ", h("code", {}, "dispatch demo"), ")."),
    );
  }
  const dispatchers = h(
    "section",
    { class: "card", "aria-labelledby": "as-dispatcher" },
    h("h2", { id: "as-dispatcher" }, "Dispatch a region"),
    h("p", { class: "muted" }, "See the region's open jobs, ask for recommendations, assign."),
    h(
      "ul",
      { class: "choices" },
      identities.regions.map(({ region, contractors }) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "choice", "data-region": region.id, onclick: () => void signInAs({ role: "dispatcher", region: region.id }) },
            h("strong", {}, `Dispatcher of ${region.name}`),
            h("span", { class: "muted" }, ` ${region.timeZone} · ${contractors.length} contractors`),
          ),
        ),
      ),
    ),
  );

  const regionSelect = h(
    "select",
    { id: "contractor-region", name: "region" },
    identities.regions.map(({ region }) => h("option", { value: region.id }, region.name)),
  );
  const contractorSelect = h("select", { id: "contractor-id", name: "contractorId", required: true });
  const filter = h("input", { id: "contractor-filter", type: "search", placeholder: "Filter by name or skill", autocomplete: "off" });
  const refill = () => {
    const entry = identities.regions.find(({ region }) => region.id === regionSelect.value);
    const needle = filter.value.trim().toLowerCase();
    const rows = (entry?.contractors ?? []).filter(
      (c) => !needle || c.name.toLowerCase().includes(needle) || c.skills.some((s) => s.name.includes(needle)),
    );
    fill(
      contractorSelect,
      rows.map((c) =>
        h("option", { value: c.id }, `${c.name} — ${c.skills.map((s) => `${s.name} ${s.level}`).join(", ")}`),
      ),
    );
  };
  regionSelect.addEventListener("change", refill);
  filter.addEventListener("input", refill);
  refill();
  const contractors = h(
    "section",
    { class: "card", "aria-labelledby": "as-contractor" },
    h("h2", { id: "as-contractor" }, "Be a contractor"),
    h("p", { class: "muted" }, "See your upcoming assignments appear as they are made."),
    h(
      "form",
      {
        class: "stack",
        onsubmit: (event: Event) => {
          event.preventDefault();
          if (contractorSelect.value) void signInAs({ role: "contractor", contractorId: contractorSelect.value });
          else showError("Pick a contractor first.");
        },
      },
      h("label", { for: "contractor-region" }, "Region"),
      regionSelect,
      h("label", { for: "contractor-filter" }, "Filter"),
      filter,
      h("label", { for: "contractor-id" }, "Contractor"),
      contractorSelect,
      h("button", { type: "submit", class: "button-primary" }, "Sign in as contractor"),
    ),
  );
  return h(
    "div",
    {},
    h(
      "p",
      { class: "dev-note" },
      "Development mode: the service has no secret of its own, so you can sign in as anyone in the demo data. ",
      "With ",
      h("code", {}, "DISPATCH_JWT_SECRET"),
      " set, this page asks for a token instead.",
    ),
    h("div", { class: "signin-grid" }, dispatchers, contractors),
  );
}

function tokenForm(): Node {
  const input = h("textarea", { id: "token", name: "token", rows: 4, required: true, spellcheck: "false", autocomplete: "off" });
  return h(
    "section",
    { class: "card narrow" },
    h("h2", {}, "Sign in with a token"),
    h("p", { class: "muted" }, "Paste the bearer token (JWT) you were given. It stays in this tab only."),
    h(
      "form",
      {
        class: "stack",
        onsubmit: (event: Event) => {
          event.preventDefault();
          try {
            const session = sessionFromToken(input.value);
            saveSession(session);
            navigate(homeOf(session));
          } catch (error) {
            showError(error, "Sign-in failed");
          }
        },
      },
      h("label", { for: "token" }, "Token"),
      input,
      h("button", { type: "submit", class: "button-primary" }, "Sign in"),
    ),
  );
}
