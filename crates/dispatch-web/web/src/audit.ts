// One audit record, readable: what was asked, the job as it was, every candidate with its
// score, every exclusion with its reason, and the decision. Linked from the schedule board.

import { get } from "./api";
import { fill, h } from "./dom";
import { range } from "./format";
import type { AuditRecord, Region } from "./generated/api";
import type { Session } from "./session";
import { frame, showError } from "./ui";

export function showAudit(session: Session, auditId: string): void {
  const main = frame({ title: "Audit record", subtitle: auditId, session });
  const body = h("section", { class: "card", id: "audit", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  main.append(body);
  void (async () => {
    let record: AuditRecord;
    let zone = "UTC";
    try {
      record = await get<AuditRecord>(`/audit/${auditId}`);
      zone = (await get<Region>(`/regions/${encodeURIComponent(record.region)}`)).timeZone;
    } catch (error) {
      showError(error, "Could not load the audit record");
      fill(body, h("p", {}, "This audit record cannot be shown."));
      return;
    }
    const d = record.decision;
    const reasons = new Map<string, number>();
    for (const e of record.excluded) reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
    fill(
      body,
      h("h2", {}, record.job.title),
      h("dl", { class: "audit-facts" },
        h("dt", {}, "Region"), h("dd", {}, record.region),
        h("dt", {}, "Job window"), h("dd", {}, range(record.job.windowStartUtc, record.job.windowEndUtc, zone)),
        h("dt", {}, "Asked by"), h("dd", {}, `${record.requestedBy}, ${range(record.createdAt, record.createdAt, zone)}`),
        h("dt", {}, "Source"), h("dd", {}, record.planId ? `plan ${record.planId}` : record.requestId ? `recommendation ${record.requestId}` : "manual"),
        h("dt", {}, "Configuration"), h("dd", {}, `version ${record.configVersion}`),
        h("dt", {}, "Decision"),
        h("dd", { id: "audit-decision" }, d ? `${d.source} by ${d.decidedBy}${d.rank ? `, rank ${d.rank}` : ""}, ${range(d.decidedAt, d.decidedAt, zone)}` : "none yet"),
        h("dt", {}, "Considered"), h("dd", {}, `${record.evaluated} contractors`),
      ),
      h("h3", {}, `Candidates (${record.candidates.length})`),
      record.candidates.length
        ? h(
            "table",
            { class: "audit-table" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Rank"), h("th", { scope: "col" }, "Contractor"), h("th", { scope: "col" }, "Score"), h("th", { scope: "col" }, "Slot"))),
            h("tbody", {}, record.candidates.map((c) =>
              h("tr", { "data-contractor-id": c.contractorId }, h("td", {}, String(c.rank)), h("td", {}, h("code", {}, c.contractorId)), h("td", {}, c.score.toFixed(1)), h("td", {}, range(c.startUtc, c.endUtc, zone))),
            )),
          )
        : h("p", { class: "muted" }, "None: the booking was checked against the rules directly."),
      h("h3", {}, `Excluded (${record.excluded.length})`),
      h("p", {}, [...reasons].map(([reason, n]) => `${n} ${reason}`).join(", ") || "Nobody."),
    );
  })();
}
