// Who is signed in: the bearer token and what it lets its holder be, kept in sessionStorage
// (per tab, gone when the tab closes). The hub gets the same token via accessTokenFactory.

export type Role = "admin" | "dispatcher" | "contractor";

export interface Session {
  token: string;
  role: Role;
  sub: string;
  regions: string[];
  contractorId: string | null;
  /** Seconds since the epoch. */
  exp: number;
}

const KEY = "dispatch.session";

/** Reads the claims of a JWT (no verification: the server verifies; this only routes). */
export function sessionFromToken(token: string): Session {
  const parts = token.trim().split(".");
  if (parts.length !== 3) throw new Error("That is not a token: a JWT has three dot-separated parts.");
  let claims: Record<string, unknown>;
  try {
    const json = atob(parts[1]!.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1]!.length / 4) * 4, "="));
    claims = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new Error("The token's claims could not be read.");
  }
  const role = claims.role;
  if (role !== "admin" && role !== "dispatcher" && role !== "contractor") {
    throw new Error("The token has no Dispatch role (admin, dispatcher or contractor).");
  }
  const exp = typeof claims.exp === "number" ? claims.exp : 0;
  if (exp * 1000 < Date.now()) throw new Error("The token has expired.");
  return {
    token: token.trim(),
    role,
    sub: typeof claims.sub === "string" ? claims.sub : "",
    regions: Array.isArray(claims.regions) ? claims.regions.filter((r): r is string => typeof r === "string") : [],
    contractorId: typeof claims.contractorId === "string" ? claims.contractorId : null,
    exp,
  };
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    if (!session.token || session.exp * 1000 < Date.now()) {
      clearSession();
      return null;
    }
    return session;
  } catch {
    clearSession();
    return null;
  }
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** Where a session lands after sign-in. */
export function homeOf(session: Session): string {
  if (session.role === "contractor" && session.contractorId) return `/contractor/${session.contractorId}`;
  if (session.regions.length > 0) return `/dispatch/${session.regions[0]}`;
  return "/";
}
