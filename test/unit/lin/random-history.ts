// Generates histories that are linearizable by construction: clients issue overlapping
// operations on a few registers, each operation takes effect at a random moment inside its
// interval, and replies are computed by applying the operations in that order. Some outcomes
// are made unknown (they take effect or not) and some fail definitely (they never happen).
import type { OpRecord } from "../../../lib/lin/index.ts";
import { seededRandom } from "../../faults/random.ts";

export interface RandomHistoryOptions {
  seed: number;
  clients: number;
  opsPerClient: number;
  keys: number;
  unknownRate: number;
  failRate: number;
}

interface Planned {
  record: OpRecord;
  effectAt: number | null;
}

export function randomHistory(options: RandomHistoryOptions): OpRecord[] {
  const random = seededRandom(options.seed);
  const keys = Array.from({ length: options.keys }, (_, i) => `key-${i}`);
  const planned: Planned[] = [];
  let nextId = 1;
  for (let client = 1; client <= options.clients; client++) {
    let time = random() * 5;
    for (let n = 0; n < options.opsPerClient; n++) {
      const roll = random();
      const op = roll < 0.45 ? "GET" : roll < 0.85 ? "SET" : "DELETE";
      const key = keys[Math.floor(random() * keys.length)] as string;
      const call = time;
      const ret = call + 0.1 + random() * 4;
      const fate = random();
      const outcome = fate < options.unknownRate ? "unknown"
        : fate < options.unknownRate + options.failRate ? "fail" : "ok";
      const takesEffect = outcome === "ok" || (outcome === "unknown" && random() < 0.5);
      const record: OpRecord = {
        id: nextId++, client, node: 1, key, op, call, ret, outcome,
        ...(op === "SET" ? { value: `c${client}-${n}` } : {}),
        ...(outcome === "fail" ? { error: "UNAVAILABLE" } : {}),
        ...(outcome === "unknown" ? { error: "TIMEOUT" } : {}),
      };
      planned.push({ record, effectAt: takesEffect ? call + random() * (ret - call) : null });
      time = ret + random() * 2;
    }
  }
  return applyInOrder(planned);
}

/** Fills in the replies of the operations that took effect, in the order they did. */
function applyInOrder(planned: Planned[]): OpRecord[] {
  const state = new Map<string, string>();
  const replies = new Map<number, OpRecord["reply"]>();
  const effective = planned.filter((p) => p.effectAt !== null)
    .sort((a, b) => (a.effectAt as number) - (b.effectAt as number));
  for (const { record } of effective) {
    const held = state.get(record.key);
    if (record.op === "GET") {
      replies.set(record.id, held === undefined ? { found: false } : { found: true, value: held });
    } else if (record.op === "SET") {
      replies.set(record.id, { status: held === undefined ? "created" : "updated" });
      state.set(record.key, record.value as string);
    } else {
      replies.set(record.id, { status: held === undefined ? "not_found" : "deleted" });
      state.delete(record.key);
    }
  }
  return planned.map(({ record }) => {
    const reply = record.outcome === "ok" ? replies.get(record.id) : undefined;
    return reply === undefined ? record : { ...record, reply };
  });
}
