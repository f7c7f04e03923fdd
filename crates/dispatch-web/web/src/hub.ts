// The live channel: one SignalR connection (official @microsoft/signalr client) to /hub/v1,
// subscribed to one channel, with automatic reconnect and a visible state. After every
// reconnect (and after a restart following a drop) it subscribes again and asks the page to
// re-fetch, so nothing missed while offline stays stale.

import { HubConnectionBuilder, HubConnectionState, LogLevel, type HubConnection } from "@microsoft/signalr";
import type { JobAssigned, RecommendationReady } from "./generated/api";
import { loadSession } from "./session";

export type LinkState = "connecting" | "live" | "reconnecting" | "offline";

export interface LiveHandlers {
  onState: (state: LinkState, detail?: string) => void;
  onRecommendationReady?: (event: RecommendationReady) => void;
  onJobAssigned?: (event: JobAssigned) => void;
  /** After a reconnect: fetch everything shown again. */
  onResync: () => void;
}

/** How long to wait before restarting once automatic reconnect has given up. */
const RESTART_MS = 5000;

export class Live {
  private readonly connection: HubConnection;
  private stopped = false;
  private restartTimer: number | undefined;

  constructor(
    private readonly channel: string,
    private readonly handlers: LiveHandlers,
  ) {
    this.connection = new HubConnectionBuilder()
      .withUrl("/hub/v1", { accessTokenFactory: () => loadSession()?.token ?? "" })
      .withAutomaticReconnect([0, 1000, 2000, 5000, 10000, 10000])
      .configureLogging(LogLevel.Warning)
      .build();
    this.connection.on("RecommendationReady", (event: RecommendationReady) => handlers.onRecommendationReady?.(event));
    this.connection.on("JobAssigned", (event: JobAssigned) => handlers.onJobAssigned?.(event));
    this.connection.onreconnecting(() => handlers.onState("reconnecting"));
    this.connection.onreconnected(async () => {
      try {
        await this.subscribe();
        handlers.onState("live");
        handlers.onResync();
      } catch (error) {
        handlers.onState("offline", String(error));
      }
    });
    this.connection.onclose((error) => {
      if (this.stopped) return;
      handlers.onState("offline", error ? String(error.message ?? error) : undefined);
      this.scheduleRestart();
    });
  }

  /** Connects and subscribes; retries on its own until it works or `stop()`. */
  async start(resync = false): Promise<void> {
    if (this.stopped) return;
    this.handlers.onState(resync ? "reconnecting" : "connecting");
    try {
      await this.connection.start();
      await this.subscribe();
      this.handlers.onState("live");
      if (resync) this.handlers.onResync();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.handlers.onState("offline", message);
      if (this.connection.state !== HubConnectionState.Disconnected) {
        await this.connection.stop().catch(() => {});
      }
      this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer !== undefined) return;
    this.restartTimer = window.setTimeout(() => {
      this.restartTimer = undefined;
      void this.start(true);
    }, RESTART_MS);
  }

  private async subscribe(): Promise<void> {
    await this.connection.invoke("Subscribe", this.channel);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer !== undefined) window.clearTimeout(this.restartTimer);
    await this.connection.stop().catch(() => {});
  }
}

const LABELS: Record<LinkState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline — retrying",
};

/** The connection badge in the header (a polite live region). */
export function linkBadge(): { el: HTMLElement; set: (state: LinkState, detail?: string) => void } {
  const el = document.createElement("span");
  el.className = "link link-connecting";
  el.setAttribute("role", "status");
  el.setAttribute("aria-live", "polite");
  el.dataset.state = "connecting";
  el.textContent = LABELS.connecting;
  return {
    el,
    set(state, detail) {
      el.className = `link link-${state}`;
      el.dataset.state = state;
      el.textContent = LABELS[state];
      el.title = detail ? `${LABELS[state]}: ${detail}` : LABELS[state];
    },
  };
}
