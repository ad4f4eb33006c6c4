// The workload: C clients, each a closed loop of SET (unique values), GET and DELETE on the
// current key set, some of the writes compare-and-set (SET and DELETE with ifVersion, the
// version the client last saw for the key), one attempt per operation, recorded with call and
// return times on the monotonic clock. NOT_LEADER hints say where the next attempt goes; a
// timeout moves on to the next node. Every attempt becomes one history record (lib/lin's OpRecord).
import { appendFileSync } from "node:fs";
import { definiteErrorCodes, type OpRecord } from "../../lib/lin/index.ts";
import { type Attempt, NodeLink, type Reply } from "./wire.ts";

/** Appends records to a JSONL file as they complete, and keeps them for the checker. */
export class HistoryRecorder {
  readonly records: OpRecord[] = [];
  private readonly path: string;
  private buffered: string[] = [];
  private nextId = 1;

  constructor(path: string) {
    this.path = path;
  }

  newId(): number {
    return this.nextId++;
  }

  add(record: OpRecord): void {
    this.records.push(record);
    this.buffered.push(JSON.stringify(record));
    if (this.buffered.length >= 256) this.flush();
  }

  flush(): void {
    if (this.buffered.length === 0) return;
    appendFileSync(this.path, `${this.buffered.join("\n")}\n`);
    this.buffered = [];
  }
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly attemptTimeoutMs: number;
  /** Node id to request endpoint; a hint naming an unknown node is followed by its endpoint. */
  readonly endpoints: ReadonlyMap<number, string>;
  readonly keys: () => readonly string[];
  readonly random: () => number;
  readonly recorder: HistoryRecorder;
}

type Op = "SET" | "GET" | "DELETE";

/** One operation to attempt: `ifVersion` makes a write a compare-and-set. */
interface Planned {
  readonly op: Op;
  readonly ifVersion?: number;
}

/** One client's view: where to send next, with one link per node. */
class ClientState {
  readonly client: number;
  target: number;
  private readonly links = new Map<number, NodeLink>();
  private readonly options: WorkloadOptions;
  private seq = 0;
  /** The version each key had when this client last learned it (0: absent). */
  private readonly versions = new Map<string, number>();

  constructor(client: number, options: WorkloadOptions) {
    this.client = client;
    this.options = options;
    const ids = [...options.endpoints.keys()];
    this.target = ids[client % ids.length] as number;
  }

  nextValue(): string {
    return `c${this.client}-${++this.seq}`;
  }

  /** The version to compare with: the last one seen, 0 for a key never seen. */
  versionOf(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  /** One attempt at the current target, recorded; afterwards the target is updated. */
  async attempt(planned: Planned, key: string, value: string | undefined, isFinal: boolean):
    Promise<OpRecord> {
    const options = this.options;
    const { op, ifVersion } = planned;
    const node = this.target;
    const link = this.link(node);
    const condition = ifVersion === undefined ? {} : { ifVersion };
    const body: Reply = { op, key, ...(value === undefined ? {} : { value }), ...condition };
    const call = performance.now();
    const result = link === undefined ? { kind: "timeout" as const }
      : await link.request(body, options.attemptTimeoutMs);
    const ret = performance.now();
    const record: OpRecord = {
      id: options.recorder.newId(), client: this.client, node, key, op, call, ret,
      ...(value === undefined ? {} : { value }),
      ...condition,
      ...classify(result),
      ...(isFinal ? { final: true } : {}),
    };
    options.recorder.add(record);
    this.learn(record);
    this.retarget(result);
    return record;
  }

  private learn(record: OpRecord): void {
    const version = record.reply?.version;
    if (record.op === "DELETE" && record.outcome === "ok") this.versions.set(record.key, 0);
    else if (record.op === "GET" && record.reply?.found === false) this.versions.set(record.key, 0);
    else if (version !== undefined) this.versions.set(record.key, version);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }

  private link(node: number): NodeLink | undefined {
    let link = this.links.get(node);
    const endpoint = this.options.endpoints.get(node);
    if (link === undefined && endpoint !== undefined) {
      link = new NodeLink(endpoint);
      this.links.set(node, link);
    }
    return link;
  }

  private retarget(result: Attempt): void {
    if (result.kind === "reply" && result.reply["ok"] === true) return;
    const error = result.kind === "reply" ? result.reply["error"] as Reply | undefined : undefined;
    const hint = (error?.["leader"] as { id?: unknown } | undefined)?.id;
    if (typeof hint === "number" && this.options.endpoints.has(hint) && hint !== this.target) {
      this.target = hint;
      return;
    }
    const ids = [...this.options.endpoints.keys()].sort((a, b) => a - b);
    this.target = ids[(ids.indexOf(this.target) + 1) % ids.length] as number;
  }
}

/** The outcome fields of a record: ok with the reply, a definite failure, or unknown. */
function classify(result: Attempt): Pick<OpRecord, "outcome" | "reply" | "error"> {
  if (result.kind === "timeout") return { outcome: "unknown", error: "no reply" };
  const reply = result.reply;
  if (reply["ok"] === true) {
    const kept: NonNullable<OpRecord["reply"]> = {};
    if (typeof reply["status"] === "string") kept.status = reply["status"];
    if (typeof reply["found"] === "boolean") kept.found = reply["found"];
    if (typeof reply["value"] === "string") kept.value = reply["value"];
    if (typeof reply["version"] === "number") kept.version = reply["version"];
    return { outcome: "ok", reply: kept };
  }
  const error = reply["error"] as Reply | undefined;
  const code = String(error?.["code"] ?? "malformed reply");
  const version = error?.["version"];
  if (code === "CONFLICT" && typeof version === "number") {
    return { outcome: "fail", error: code, reply: { version } };
  }
  // TIMEOUT and anything unrecognized may have happened: only listed codes mean it did not.
  return { outcome: definiteErrorCodes.includes(code) ? "fail" : "unknown", error: code };
}

function pickOp(roll: number, state: ClientState, key: string): Planned {
  if (roll < 0.4) return { op: "GET" };
  if (roll < 0.65) return { op: "SET" };
  if (roll < 0.85) return { op: "SET", ifVersion: state.versionOf(key) };
  if (roll < 0.95) return { op: "DELETE" };
  return { op: "DELETE", ifVersion: state.versionOf(key) };
}

/** Runs the clients until `isDone()`; each attempt is awaited before the next. */
export async function runClients(options: WorkloadOptions, isDone: () => boolean): Promise<void> {
  const loop = async (client: number): Promise<void> => {
    const state = new ClientState(client, options);
    try {
      while (!isDone()) {
        const keys = options.keys();
        const key = keys[Math.floor(options.random() * keys.length)] as string;
        const planned = pickOp(options.random(), state, key);
        const value = planned.op === "SET" ? state.nextValue() : undefined;
        const record = await state.attempt(planned, key, value, false);
        // A definite refusal comes back at once: pause briefly rather than spin on it.
        if (record.outcome === "fail" && record.error !== "CONFLICT") await Bun.sleep(20);
      }
    } finally {
      await state.close();
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => loop(i + 1)));
  options.recorder.flush();
}

/** Reads every key once more until a node answers it definitely (records marked final). */
export async function finalReads(
  options: WorkloadOptions,
  keys: readonly string[],
  deadlineMs: number,
): Promise<{ read: number; unread: string[] }> {
  const state = new ClientState(0, options);
  const unread: string[] = [];
  const deadline = performance.now() + deadlineMs;
  try {
    for (const key of keys) {
      let isRead = false;
      while (!isRead && performance.now() < deadline) {
        const record = await state.attempt({ op: "GET" }, key, undefined, true);
        isRead = record.outcome === "ok";
        if (!isRead) await Bun.sleep(20);
      }
      if (!isRead) unread.push(key);
    }
  } finally {
    await state.close();
    options.recorder.flush();
  }
  return { read: keys.length - unread.length, unread };
}
