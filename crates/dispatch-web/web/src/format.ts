// Times are UTC on the wire and shown in the region's time zone (working hours are local).

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = zone + JSON.stringify(options);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options });
    formatters.set(key, f);
  }
  return f;
}

/** `14:05` in `zone`. */
export function time(iso: string | Date, zone: string): string {
  return formatter(zone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

/** `Tue 3 Dec` in `zone`. */
export function day(iso: string | Date, zone: string): string {
  return formatter(zone, { weekday: "short", day: "numeric", month: "short" }).format(new Date(iso));
}

/** `Tue 3 Dec 14:05` in `zone`. */
export function dayTime(iso: string | Date, zone: string): string {
  return `${day(iso, zone)} ${time(iso, zone)}`;
}

/** `14:05–15:35` (with the day of the start when `withDay`, and of the end when it differs). */
export function range(start: string, end: string, zone: string, withDay = true): string {
  const endDay = day(end, zone);
  const sameDay = day(start, zone) === endDay;
  return `${withDay ? day(start, zone) + " " : ""}${time(start, zone)}–${sameDay ? "" : endDay + " "}${time(end, zone)}`;
}

/** Minutes `zone` is ahead of UTC at `at`. */
export function offsetMinutes(zone: string, at: Date): number {
  const parts = formatter(zone, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return Math.round((asUtc - at.getTime()) / 60000);
}

/** The UTC instant of local midnight, in `zone`, of the day that holds `at`. */
export function startOfLocalDay(zone: string, at: Date): Date {
  const offset = offsetMinutes(zone, at);
  const local = new Date(at.getTime() + offset * 60000);
  const midnightAsUtc = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  // Recompute the offset at midnight itself (a DST change may lie between).
  const guess = new Date(midnightAsUtc - offset * 60000);
  return new Date(midnightAsUtc - offsetMinutes(zone, guess) * 60000);
}

/** Minutes since local midnight of `at` in `zone`. */
export function localMinutes(zone: string, at: Date): number {
  return Math.round((at.getTime() - startOfLocalDay(zone, at).getTime()) / 60000);
}

/** `mon`…`sun` of `at` in `zone`. */
export function weekday(zone: string, at: Date): string {
  return formatter(zone, { weekday: "short" }).format(at).slice(0, 3).toLowerCase();
}

/** `HH:MM` → minutes. */
export function hmToMinutes(hm: string): number {
  const [h, m] = hm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** ISO 8601 without milliseconds, with `Z`. */
export function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function minutes(n: number): string {
  return n >= 60 ? `${Math.floor(n / 60)} h ${n % 60 ? `${n % 60} min` : ""}`.trim() : `${n} min`;
}

/** `2026-12-03`: the local date of `at` in `zone`. */
export function localDate(zone: string, at: Date): string {
  const parts = formatter(zone, { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** The UTC instant of local date `date` (`2026-12-03`) at `hm` (`14:05`) in `zone`. */
export function localToUtc(zone: string, date: string, hm: string): Date {
  const [y, m, d] = date.split("-").map(Number);
  const asUtc = Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1) + hmToMinutes(hm) * 60000;
  // The offset at the guess, then again at the result (a DST change may lie between).
  const guess = asUtc - offsetMinutes(zone, new Date(asUtc)) * 60000;
  return new Date(asUtc - offsetMinutes(zone, new Date(guess)) * 60000);
}

/** Local midnight `days` days after the local midnight `dayStart`, in `zone`. */
export function addLocalDays(zone: string, dayStart: Date, days: number): Date {
  return startOfLocalDay(zone, new Date(dayStart.getTime() + days * 86_400_000 + 3 * 3_600_000));
}
