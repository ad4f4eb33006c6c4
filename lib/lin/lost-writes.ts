// Lost acknowledged writes, read off the final state. After a run, with every fault healed and
// the clients stopped, each key is read once more ("final" reads). An acknowledged write W
// (SET or DELETE answered ok) is lost when the final read does not show W's effect and every
// write that could explain what it shows finished before W was even sent: the final state is
// one from before W. Writes that could explain it are SETs of the value read (or, for an absent
// key, DELETEs and the initial empty state), acknowledged or with unknown outcome; an unknown
// write counts as finishing never, so it could always come after W. A linearizable store loses
// none. Pure.
import type { OpRecord } from "./kv.ts";

export interface LostWrite {
  readonly key: string;
  readonly write: OpRecord;
  readonly finalRead: OpRecord;
}

function reflects(write: OpRecord, read: OpRecord): boolean {
  const found = read.reply?.found === true;
  if (write.op === "DELETE") return !found;
  return found && read.reply?.value === write.value;
}

function finishedAt(record: OpRecord): number {
  return record.outcome === "unknown" ? Infinity : record.ret;
}

/** Every lost acknowledged write, per the definition above; keys without a final read skipped. */
export function lostWrites(records: readonly OpRecord[]): LostWrite[] {
  const finals = new Map<string, OpRecord>();
  const writes = new Map<string, OpRecord[]>();
  for (const record of records) {
    if (record.final === true) {
      const previous = finals.get(record.key);
      if (record.outcome === "ok" && (previous === undefined || record.call > previous.call)) {
        finals.set(record.key, record);
      }
    } else if (record.op !== "GET" && record.outcome !== "fail") {
      const list = writes.get(record.key);
      if (list === undefined) writes.set(record.key, [record]);
      else list.push(record);
    }
  }
  const lost: LostWrite[] = [];
  for (const [key, finalRead] of finals) {
    const candidates = writes.get(key) ?? [];
    const explanations = candidates.filter((w) => reflects(w, finalRead));
    for (const write of candidates) {
      if (write.outcome !== "ok" || reflects(write, finalRead)) continue;
      if (explanations.every((x) => finishedAt(x) < write.call)) {
        lost.push({ key, write, finalRead });
      }
    }
  }
  return lost;
}
