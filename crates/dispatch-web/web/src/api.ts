// HTTP calls to /api/v1 with the session's bearer token. Every failure becomes an ApiError
// carrying the server's problem document (RFC 9457), so pages can show it; none is swallowed.

import type { Problem } from "./generated/api";
import { clearSession, loadSession } from "./session";

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null, fallback: string) {
    super(problem ? `${problem.title}: ${problem.detail}${problem.field ? ` (field ${problem.field})` : ""}` : fallback);
    this.status = status;
    this.problem = problem;
  }
}

/** Called when the server refuses the token (401): the page goes back to sign-in. */
let onUnauthenticated: (message: string) => void = () => {};

export function setUnauthenticatedHandler(handler: (message: string) => void): void {
  onUnauthenticated = handler;
}

export async function api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const bearer = token ?? loadSession()?.token;
  const headers: Record<string, string> = { accept: "application/json" };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, null, `The service cannot be reached (${method} ${path}): ${String(error)}`);
  }
  const text = await response.text();
  if (!response.ok) {
    let problem: Problem | null = null;
    try {
      problem = text ? (JSON.parse(text) as Problem) : null;
    } catch {
      problem = null;
    }
    const error = new ApiError(response.status, problem, `${method} ${path} failed with HTTP ${response.status}`);
    if (response.status === 401 && !token) {
      clearSession();
      onUnauthenticated("Your sign-in is no longer valid; please sign in again.");
    }
    throw error;
  }
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown) => api<T>("POST", path, body);
