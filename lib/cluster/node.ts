// The node's shell: owns the sockets, the database and the one timer, and carries out what the
// node core decides. Inputs: a tick every tickMs, peer messages (peer port), client requests
// (client port), heartbeats (SUB). After any input it schedules one drain per event-loop turn:
// while the core has work, persist its Raft state and data-plane writes in ONE transaction
// (group commit), send, and advance. A storage failure stops the node (onFatal, exit 3).

import { formatTcpEndpoint, parseTcpEndpoint } from "../util/endpoint.ts";
import { ConfigError, StorageError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import {
  HEARTBEAT_TOPIC,
  encodeJson,
  errorReply,
  partitionWatchTopic,
  type Reply,
  watchChange,
  watchTopic,
} from "../protocol.ts";
import { nullRecorder, type OpsRecorder } from "../ops/index.ts";
import { validateMessage, type Message as RaftMessage } from "../raft/index.ts";
import { NodeStorage } from "../store/node-storage.ts";
import type { AppliedChange, ReplicaWrite } from "../store/replica-types.ts";
import { SeededRandom } from "../util/random.ts";
import {
  type CurveOptions,
  Publisher,
  Router,
  Subscriber,
  bytesToString,
} from "../zmtp/index.ts";
import { answerOversized, handleClientRequest } from "./client-handlers.ts";
import {
  CONNECTION_BUFFER_BYTES,
  type ClientLimits,
  clientLimitDefaults,
  clientRouterOptions,
  publisherOptions,
} from "./client-limits.ts";
import { heartbeatObject } from "./heartbeat-info.ts";
import { joinCluster } from "./join.ts";
import { decideJoin } from "./join-rules.ts";
import { Liveness } from "./liveness.ts";
import { NodeCore, type NodeCoreConfig, type PeerOut } from "./node-core.ts";
import {
  peerLimitDefaults,
  plausibleSender,
  type JoinRequest,
  type MembershipReply,
  type PeerLimits,
  type PeerMessage,
} from "./peer-protocol.ts";
import { PeerTimings } from "./peer-timings.ts";
import { PeerTransport, type Incoming } from "./peer-transport.ts";
import { type NodeCurve, isMemberKey, peerCurve, serverCurve } from "./curve-security.ts";
import { ClusterState, type MemberRecord, type StateEffect } from "./state.ts";

export interface NodeSettings {
  readonly id: number;
  /** Address to bind. */
  readonly host: string;
  /** Address in this node's endpoints: what other nodes and clients dial. */
  readonly advertise: string;
  /** This node's HTTP base URL, told to the others in heartbeats; null when it serves none. */
  readonly http: string | null;
  /** Where request, replication and storage code report what they did. */
  readonly recorder?: OpsRecorder;
  /** CURVE on every socket (curve-security.ts); absent: NULL, no encryption. */
  readonly curve?: NodeCurve;
  readonly port: number;
  readonly pubPort: number;
  readonly peerPort: number;
  readonly rf: number | undefined;
  readonly partitions: number;
  readonly join: readonly string[];
  readonly dataDir: string;
  readonly heartbeatMs: number;
  readonly suspectMs: number;
  readonly electionTimeoutMs: number;
  readonly valueBytesMax: number;
  readonly minInsync: number;
  readonly requestTimeoutMs: number;
  /** What clients may make the node hold (client-limits.ts); absent: the defaults. */
  readonly clientLimits?: ClientLimits;
}

/** Raft ticks in one minimum election timeout. */
const ELECTION_TICKS = 8;
const JOIN_DEADLINE_MS = 60_000;

export class WarehouseNode {
  readonly settings: NodeSettings;
  readonly self: MemberRecord;
  readonly recorder: OpsRecorder;
  /** Each member's HTTP base URL, from its heartbeats. */
  readonly peerHttp = new Map<number, string>();
  private readonly log: Logger;
  private readonly storage: NodeStorage;
  private readonly core: NodeCore;
  private readonly router: Router;
  private readonly publisher: Publisher;
  private readonly subscriber: Subscriber;
  private readonly transport: PeerTransport;
  private readonly peerRouter: Router;
  /** CURVE toward other members (the cluster key both ways), or undefined. */
  private readonly peerSecurity: CurveOptions | undefined;
  private readonly limits: { current: PeerLimits<RaftMessage> };
  private readonly liveness: Liveness;
  /** Each partition's in-sync set as last applied, to count catch-ups. */
  private readonly insyncSeen = new Map<number, readonly number[]>();
  /** Data-plane round trips per peer, for the metrics. */
  private readonly peerTimings = new PeerTimings();
  private readonly subscribed = new Map<number, string>();
  private readonly tickMs: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticksSinceHeartbeat = 0;
  private isDrainScheduled = false;
  private lastBatchWrites = 0;
  private readonly aliveMembers = new Set<number>();
  private lastLeaderId = 0;
  private isStopped = false;
  private isClosed = false;
  /** Called once when the node must stop (a storage failure); the entry file exits 3. */
  onFatal: (error: unknown) => void = () => undefined;

  get endpoint(): string {
    return this.self.endpoint;
  }
  get pub(): string {
    return this.self.pub;
  }
  get peer(): string {
    return this.self.peer;
  }

  private constructor(init: {
    settings: NodeSettings;
    log: Logger;
    self: MemberRecord;
    storage: NodeStorage;
    router: Router;
    publisher: Publisher;
    peerRouter: Router;
    limits: { current: PeerLimits<RaftMessage> };
  }) {
    this.settings = init.settings;
    this.recorder = init.settings.recorder ?? nullRecorder;
    this.log = init.log;
    this.self = init.self;
    this.storage = init.storage;
    this.router = init.router;
    this.publisher = init.publisher;
    this.limits = init.limits;
    this.peerRouter = init.peerRouter;
    const peerSecurity =
      init.settings.curve === undefined ? undefined : peerCurve(init.settings.curve);
    this.peerSecurity = peerSecurity;
    this.transport = new PeerTransport(
      init.peerRouter,
      () => init.limits.current,
      init.log,
      peerSecurity,
    );
    this.tickMs = Math.max(5, Math.floor(init.settings.electionTimeoutMs / ELECTION_TICKS));
    this.liveness = new Liveness(Math.max(2, Math.ceil(init.settings.suspectMs / this.tickMs)));
    this.subscriber = new Subscriber({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 400,
      ...(peerSecurity === undefined ? {} : { curve: peerSecurity }),
    });
    this.subscriber.subscribe(HEARTBEAT_TOPIC);
    this.core = new NodeCore(
      coreConfig(init.settings, this.tickMs),
      { raft: init.storage.raft, replica: init.storage.replica },
      new SeededRandom(Number(process.hrtime.bigint() % 0xffffffffn)),
      init.log.child({ area: "raft" }),
    );
    this.core.onEffect((effect) => this.onEffect(effect));
    this.core.onReplicated((id, count) => this.recorder.replicated(id, count, "ok"));
    this.core.onReadCached((hit) => this.recorder.readCached(hit ? "hit" : "miss"));
    this.core.onCommitted((partition, change) => this.publishChange(partition, change));
  }

  /** Opens the data directory, binds, bootstraps, joins or restarts, and starts the loop. */
  static async start(settings: NodeSettings, log: Logger): Promise<WarehouseNode> {
    const storage = NodeStorage.open(settings.dataDir, {
      onCheckpointsStopped: (reason) => log.warn("background_checkpoints_stopped", { reason }),
    });
    const curve = settings.curve;
    const serverSecurity = curve === undefined ? {} : { curve: serverCurve(curve) };
    // The peer port admits members only: with CURVE, a connection must prove the cluster key.
    const memberSecurity =
      curve === undefined
        ? {}
        : { curve: { ...serverCurve(curve), authenticate: (key: Uint8Array) => isMemberKey(curve, key) } };
    const clientLimits = settings.clientLimits ?? clientLimitDefaults;
    const router = new Router({
      routerHandover: true,
      ...clientRouterOptions(settings.valueBytesMax, clientLimits),
      logger: log.child({ area: "clients" }),
      ...serverSecurity,
    });
    const publisher = new Publisher({
      ...publisherOptions(clientLimits),
      logger: log.child({ area: "publish" }),
      ...serverSecurity,
    });
    const peerRouter = new Router({
      maxMessageBytes: peerLimitDefaults.frameBytesMax,
      connectionsMax: clientLimits.connectionsMax,
      handshakeTimeoutMs: clientLimits.handshakeTimeoutMs,
      ...memberSecurity,
    });
    try {
      checkNodeId(storage, settings.id);
      const at = { host: settings.host, advertise: settings.advertise };
      const self: MemberRecord = {
        id: settings.id,
        endpoint: await bindOrExplain(router, at, settings.port, "--port"),
        pub: await bindOrExplain(publisher, at, settings.pubPort, "--pub-port"),
        peer: await bindOrExplain(peerRouter, at, settings.peerPort, "--peer-port"),
      };
      const limits = { current: peerLimits(settings, null) };
      const isRestart = storage.hasRaftState();
      const isJoin = !isRestart && settings.join.length > 0;
      if (!isRestart && !isJoin) {
        bootstrapStorage(storage, self, settings);
        log.info("bootstrap", { rf: settings.rf ?? 2, partitions: settings.partitions });
      }
      storage.setMeta("node_id", String(settings.id));
      const node = new WarehouseNode({ settings, log, self, storage, router, publisher, peerRouter, limits });
      node.run(isRestart, isJoin);
      // A new cluster's first node says it is ready once it serves: its single-member election
      // and takeover take a few ticks, and a client that came at once would find no leader.
      if (!isRestart && !isJoin) await node.until(() => node.core.isCoordinating(), 10_000);
      if (isJoin) {
        // The node runs (heartbeats, Raft) while it asks: once admitted it is a live member.
        await node.joinThrough(settings.join).catch(async (error: unknown) => {
          await node.stop();
          throw error;
        });
      }
      return node;
    } catch (error) {
      await Promise.all([router.close(), publisher.close(), peerRouter.close()]);
      storage.close();
      throw error;
    }
  }

  private run(isRestart: boolean, isJoin: boolean): void {
    this.refreshPeers();
    if (!isRestart && !isJoin) this.core.campaign();
    if (isRestart) void this.announceEndpoints();
    this.timer = setInterval(() => this.onTick(), this.tickMs);
    void this.servePeers();
    void this.serveClients();
    void this.readHeartbeats();
    this.scheduleDrain();
  }

  /** Resolves once `condition` holds, or after `deadlineMs` (then the caller goes on anyway). */
  private async until(condition: () => boolean, deadlineMs: number): Promise<void> {
    const deadline = performance.now() + deadlineMs;
    while (!condition() && performance.now() < deadline && !this.isStopped) {
      await Bun.sleep(this.tickMs);
    }
  }

  private async joinThrough(seeds: readonly string[]): Promise<void> {
    const accepted = await joinCluster(
      this.self,
      seeds,
      { rf: this.settings.rf ?? null, minInsync: this.settings.minInsync, isRestart: false },
      this.limits.current,
      this.log,
      JOIN_DEADLINE_MS,
      (target) => this.transport.setPeer(target.id, target.peer),
      this.peerSecurity,
    );
    if (this.settings.minInsync > accepted.rf) {
      throw new ConfigError(`--min-insync ${this.settings.minInsync} is more than the cluster's ` +
        `replication factor ${accepted.rf}: no write could ever be acknowledged`);
    }
    // Until the leader's snapshot arrives, the members come from the join reply.
    for (const m of accepted.members) if (m.id !== this.self.id) this.transport.setPeer(m.id, m.peer);
  }

  async stop(): Promise<void> {
    if (this.isStopped && this.isClosed) return;
    this.isStopped = true;
    this.isClosed = true;
    clearInterval(this.timer);
    await Promise.all([
      this.router.close(),
      this.publisher.close(),
      this.subscriber.close(),
      this.peerRouter.close(),
      this.transport.close(),
    ]);
    this.storage.close();
  }

  // ---- the loop ----------------------------------------------------------------------------

  private onTick(): void {
    if (this.isStopped) return;
    this.core.tick(performance.now());
    this.liveness.tick();
    this.noticeChanges();
    if (++this.ticksSinceHeartbeat * this.tickMs >= this.settings.heartbeatMs) {
      this.ticksSinceHeartbeat = 0;
      this.publishHeartbeat();
    }
    this.scheduleDrain();
  }

  /** Logs and records members going down or up, and leader changes (transitions, not ticks). */
  private noticeChanges(): void {
    for (const id of this.core.state.memberIds()) {
      if (id === this.self.id) continue;
      const isAlive = this.liveness.isAlive(id);
      if (isAlive === this.aliveMembers.has(id)) continue;
      if (isAlive) {
        this.aliveMembers.add(id);
        this.log.info("member_up", { member: id });
        this.recorder.memberUp(id);
      } else {
        this.aliveMembers.delete(id);
        this.log.warn("member_down", {
          member: id,
          message: `node ${id} stopped sending heartbeats; the other replicas serve its ` +
            "partitions. Restart it on its data directory, or add a node with a new --id " +
            "(docs/operations.md, Replacing a node)",
        });
        this.recorder.memberDown(id);
      }
    }
    const { leaderId, term } = this.core.brief();
    if (leaderId !== this.lastLeaderId) {
      this.lastLeaderId = leaderId;
      this.log.info("leader_changed", { leader: leaderId === 0 ? null : leaderId, term });
      this.recorder.leaderChanged(leaderId === 0 ? null : leaderId, term);
    }
  }

  private scheduleDrain(): void {
    if (this.isDrainScheduled || this.isStopped) return;
    this.isDrainScheduled = true;
    setImmediate(() => {
      this.isDrainScheduled = false;
      this.drain();
    });
  }

  /** Persist, send, advance until the core has nothing left (one transaction per Ready). */
  private drain(): void {
    if (this.isStopped) return;
    try {
      for (let rounds = 0; this.core.hasReady() && rounds < 1000; rounds++) {
        const ready = this.core.ready(performance.now());
        this.sendAll(ready.early);
        // The commit below blocks the thread for its fsync: replicas start on their copies
        // meanwhile, instead of after it (the sockets would otherwise flush at the tick's end).
        if (ready.early.length > 0) this.transport.flush();
        const started = performance.now();
        const outcome = this.storage.persist(ready.raft, ready.replicaWrites);
        this.lastBatchWrites = ready.replicaWrites.length;
        const rows = changesIn(ready.replicaWrites);
        if (ready.replicaWrites.length > 0 || (ready.raft?.entries.length ?? 0) > 0) {
          this.recorder.storageCommit(rows, (performance.now() - started) / 1000);
        }
        this.sendAll(ready.late);
        this.sendAll(this.core.advance(ready, outcome));
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.isStopped) return;
    const message = error instanceof Error ? error.message : String(error);
    this.log.error(error instanceof StorageError ? "storage_failed" : "node_failed", {
      error: message,
    });
    this.isStopped = true;
    clearInterval(this.timer);
    this.onFatal(error);
  }

  private sendAll(outs: readonly PeerOut[]): void {
    const now = performance.now();
    for (const out of outs) {
      if (out.kind === "data-request") this.peerTimings.sent(out.to, out.request, now);
      this.transport.send(envelopeOf(this.self.id, out));
    }
  }

  // ---- peers -------------------------------------------------------------------------------

  private async servePeers(): Promise<void> {
    for await (const incoming of this.transport.incoming()) {
      if (this.isStopped) return;
      this.onPeerMessage(incoming);
    }
  }

  private onPeerMessage({ message, reply }: Incoming): void {
    // Raft's voters count too: a member being added answers the leader before its conf change
    // commits, and the commit needs those answers.
    const state = this.core.state;
    const voters = this.core.brief().voters;
    const memberIds = {
      has: (id: number) => state.member(id) !== undefined || voters.includes(id),
    };
    // Until the leader's snapshot arrives, a joining node knows only the leader's word.
    const isJoining = !this.core.state.isBootstrapped;
    const check = plausibleSender(message, this.self.id, memberIds);
    if (!check.ok && !(isJoining && message.kind === "raft")) {
      this.log.warn("peer_message_refused", { reason: check.error });
      return;
    }
    if (check.ok) this.transport.heard(message.from, performance.now());
    switch (message.kind) {
      case "raft":
        this.core.step(message.from, { kind: "raft", message: message.body });
        break;
      case "data-request":
        this.core.step(message.from, { kind: "data-request", request: message.body });
        break;
      case "data-reply": {
        const timing = this.peerTimings.answered(message.from, message.body, performance.now());
        if (timing !== null) {
          this.recorder.peerRequest(timing.peer, timing.op, timing.outcome, timing.seconds);
        }
        this.core.step(message.from, { kind: "data-reply", reply: message.body });
        break;
      }
      case "join":
        this.onJoin(message.body, (body) =>
          reply({ from: this.self.id, to: message.from, kind: "join-reply", body }),
        );
        break;
      case "remove":
      case "join-reply":
      case "remove-reply":
        break;
    }
    this.scheduleDrain();
  }

  private onJoin(request: JoinRequest, answer: (body: MembershipReply) => void): void {
    const status = this.core.status();
    if (status.role !== "leader") {
      const leader = this.core.state.member(status.leaderId);
      const hint = leader === undefined ? {} : { leader: { id: leader.id, endpoint: leader.peer } };
      const message = `node ${this.self.id} is not the leader`;
      return answer({ rid: request.rid, ok: false, code: "NOT_LEADER", message, ...hint });
    }
    const state = this.core.state;
    const decision = decideJoin(state, request, (id) => id === this.self.id || this.liveness.isAlive(id));
    const accept = () =>
      answer({
        rid: request.rid,
        ok: true,
        leaderId: this.self.id,
        members: this.core.state.members(),
        rf: state.rf,
        partitions: state.partitions,
      });
    const refuse = (message: string) =>
      answer({ rid: request.rid, ok: false, code: "REFUSED", message });
    switch (decision.kind) {
      case "refuse":
        this.log.warn("join_refused", { member: request.member.id, reason: decision.message });
        return refuse(decision.message);
      case "already-member":
        return accept();
      case "update":
      case "add":
        this.log.info("join", { member: request.member.id, kind: decision.kind });
        this.transport.setPeer(request.member.id, request.member.peer);
        this.core.join(request.member, decision.kind, (ok, message) =>
          ok ? accept() : answer({ rid: request.rid, ok: false, code: "BUSY", message }),
        );
    }
  }

  /** After a restart, make sure the cluster knows our (maybe new) endpoints. */
  private async announceEndpoints(): Promise<void> {
    const known = this.core.state.member(this.self.id);
    if (known !== undefined && sameEndpoints(known, this.self)) return;
    const seeds = this.core.state
      .members()
      .filter((m) => m.id !== this.self.id)
      .map((m) => m.endpoint);
    if (seeds.length === 0) return;
    try {
      await joinCluster(
        this.self,
        seeds,
        { rf: null, minInsync: this.settings.minInsync, isRestart: true },
        this.limits.current,
        this.log,
        JOIN_DEADLINE_MS,
        () => undefined,
        this.peerSecurity,
      );
    } catch (error) {
      this.log.error("announce_failed", { error: String(error) });
    }
  }

  private onEffect(effect: StateEffect): void {
    // Clock readings commit every second: nothing to log.
    if (effect.type === "ignored" || effect.type === "clock") return;
    if (effect.type === "member-added") {
      this.recorder.memberAdded(effect.member.id, effect.member.endpoint);
    }
    if (effect.type === "insync-changed" || effect.type === "restored") this.countCatchUps(effect);
    this.log.info(effect.type.replace("-", "_"), effectFields(effect));
    if (effect.type.startsWith("member") || effect.type === "restored") this.refreshPeers();
  }

  /**
   * A replica (re)entering a partition's in-sync set while this node leads is a catch-up this
   * node brought to its end. Effects carry the new set only, so the last one seen is kept.
   */
  private countCatchUps(
    effect: Extract<StateEffect, { type: "insync-changed" | "restored" }>,
  ): void {
    const state = this.core.state;
    if (effect.type === "restored") {
      this.insyncSeen.clear();
      for (let p = 0; p < state.partitions; p++) this.insyncSeen.set(p, state.insync(p));
      return;
    }
    const before = this.insyncSeen.get(effect.partition);
    this.insyncSeen.set(effect.partition, effect.ids);
    if (before === undefined || this.core.brief().role !== "leader") return;
    for (const id of effect.ids) if (!before.includes(id)) this.recorder.catchUp("ok");
  }

  /** Peer links and heartbeat subscriptions follow the members the Raft state names. */
  private refreshPeers(): void {
    const state = this.core.state;
    this.limits.current = peerLimits(this.settings, state.isBootstrapped ? state.partitions : null);
    for (const m of state.members()) {
      if (m.id === this.self.id) continue;
      this.transport.setPeer(m.id, m.peer);
      const previous = this.subscribed.get(m.id);
      if (previous === m.pub) continue;
      if (previous !== undefined) this.subscriber.disconnect(previous);
      this.subscriber.connect(m.pub);
      this.subscribed.set(m.id, m.pub);
    }
    for (const [id, pub] of this.subscribed) {
      if (state.member(id) !== undefined) continue;
      this.subscriber.disconnect(pub);
      this.subscribed.delete(id);
      this.transport.removePeer(id);
    }
  }

  // ---- clients and heartbeats --------------------------------------------------------------

  private async serveClients(): Promise<void> {
    const context = {
      valueBytesMax: this.settings.valueBytesMax,
      recorder: this.recorder,
      heartbeat: () => this.heartbeat(),
      isAlive: (id: number) => this.aliveMembers.has(id),
      run: (op: Parameters<NodeCore["request"]>[0], done: Parameters<NodeCore["request"]>[2]) => {
        this.core.request(op, performance.now(), done);
        this.scheduleDrain();
      },
    };
    for await (const frames of this.router) {
      if (this.isStopped) return;
      const body = frames[frames.length - 1] as Uint8Array;
      const answer = (reply: Reply): void => this.answerClient(frames, reply);
      const oversize = this.router.oversizeOf(frames);
      if (oversize !== undefined) answerOversized(context, body, oversize, answer);
      else handleClientRequest(context, body, answer);
    }
  }

  /**
   * Sends a reply; one that does not fit the client's reply buffer (the client is not reading,
   * or the node's buffers are full) is replaced by a short UNAVAILABLE the client may retry.
   */
  private answerClient(request: Uint8Array[], reply: Reply): void {
    // A value's length bounds its reply from below: a GET that cannot fit is refused before
    // the value is encoded (encoding a large value for a client that does not read is costly).
    const value = reply.ok ? reply["value"] : undefined;
    const atLeast = typeof value === "string" ? value.length : 0;
    if (this.router.hasRoomToAnswer(request, atLeast)) {
      const bytes = encodeJson(reply);
      if (this.router.answer(request, bytes) !== "no-room") return;
    }
    const limits = this.settings.clientLimits ?? clientLimitDefaults;
    const refusal = errorReply(
      reply.id,
      "UNAVAILABLE",
      `the reply does not fit the reply buffer (${CONNECTION_BUFFER_BYTES} bytes per ` +
        `connection, ${limits.bufferBytesMax} in all): read replies before sending more`,
    );
    this.router.answer(request, encodeJson(refusal));
  }

  /** What the ops adapter reads: the cluster state, the heartbeat object, positions, heads. */
  opsView() {
    return {
      state: this.core.state,
      heartbeat: heartbeatObject(this.self, this.core.status(), this.core.state, (id) =>
        this.aliveMembers.has(id),
      ),
      position: (partition: number) => {
        const { last } = this.storage.replica.summary(partition);
        return last.seq === 0 ? null : last;
      },
      head: (partition: number) => this.core.headSeq(partition),
    };
  }

  /** Counts for the ops gauges: writes in the last batch, open connections, unanswered requests. */
  queueAndConnectionCounts(): {
    commitQueueRows: number;
    request: number;
    publish: number;
    peerPending: Map<number, number>;
    clientRequestsInFlight: number;
    clientBufferBytes: number;
  } {
    return {
      peerPending: this.peerTimings.pendingByPeer(),
      commitQueueRows: this.lastBatchWrites,
      request: this.router.connectionCount,
      publish: this.publisher.connectionCount,
      clientRequestsInFlight: this.router.requestsInFlight,
      clientBufferBytes: this.router.bytesTotal,
    };
  }

  heartbeat(): object {
    // Liveness as the last tick saw it, so the heartbeat, /status and the events agree.
    const info = heartbeatObject(this.self, this.core.status(), this.core.state, (id) =>
      this.aliveMembers.has(id),
    );
    return { ...info, http: this.settings.http };
  }

  private publishHeartbeat(): void {
    void this.publisher
      .send([HEARTBEAT_TOPIC, encodeJson(this.heartbeat())])
      .catch(() => undefined);
  }

  /**
   * The WATCH feed: an acknowledged change under its key's topic and its partition's. A delete
   * that found nothing changed nothing and is not shown.
   */
  private publishChange(partition: number, change: AppliedChange): void {
    if (change.status === "not_found") return;
    const body = encodeJson(watchChange(change.key, change.value, change.seq));
    const send = (topic: string) => void this.publisher.send([topic, body]).catch(() => undefined);
    send(watchTopic(change.key));
    send(partitionWatchTopic(partition, change.key));
  }

  private async readHeartbeats(): Promise<void> {
    for await (const frames of this.subscriber) {
      if (frames.length !== 2) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(bytesToString(frames[1] as Uint8Array));
      } catch {
        continue;
      }
      const heard = raw as { node?: { id?: unknown }; http?: unknown } | null;
      const id = heard?.node?.id;
      if (typeof id !== "number" || this.core.state.member(id) === undefined) continue;
      this.liveness.heard(id);
      const http = heard?.http;
      if (typeof http === "string" && /^http:\/\/[^\s]{1,300}$/.test(http)) this.peerHttp.set(id, http);
    }
  }
}

// ---- helpers -------------------------------------------------------------------------------

function coreConfig(settings: NodeSettings, tickMs: number): NodeCoreConfig {
  return {
    id: settings.id,
    tickMs,
    raft: {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      // Two ticks: a follower stays sticky to a silent leader for electionTicks of its own
      // ticks, and tick phases differ between processes by up to one tick; with one tick of
      // stagger the second-ranked node could ask the third while it is still sticky, lose,
      // and let the third win.
      rankStaggerTicks: 2,
      preVote: true,
      checkQuorum: true,
      maxInflightAppends: 256,
      maxEntriesPerAppend: 256,
    },
    minInsync: settings.minInsync,
    requestTimeoutTicks: Math.max(2, Math.ceil(settings.requestTimeoutMs / tickMs)),
    leaseSafetyFactor: 0.8,
    handBackTicks: ELECTION_TICKS * 2,
    snapshotEveryEntries: 1000,
  };
}

function peerLimits(settings: NodeSettings, partitions: number | null): PeerLimits<RaftMessage> {
  return {
    ...peerLimitDefaults,
    partitions,
    valueBytesMax: settings.valueBytesMax,
    decodeRaft: validateMessage,
  };
}

function bootstrapStorage(storage: NodeStorage, self: MemberRecord, settings: NodeSettings): void {
  const state = ClusterState.initial(settings.rf ?? 2, settings.partitions, self);
  storage.persist(
    {
      snapshot: { meta: { index: 1, term: 1, confState: { voters: [self.id] } }, data: state.snapshot() },
      entries: [],
      hardState: { term: 1, vote: 0, commit: 1 },
      compaction: null,
    },
    [],
  );
}

function checkNodeId(storage: NodeStorage, id: number): void {
  const stored = storage.getMeta("node_id");
  if (stored !== undefined && stored !== String(id)) {
    throw new ConfigError(
      `data directory ${storage.path} belongs to node ${stored}, not ${id}: ` +
        "give the matching --id or another --data",
    );
  }
}

function sameEndpoints(a: MemberRecord, b: MemberRecord): boolean {
  return a.endpoint === b.endpoint && a.pub === b.pub && a.peer === b.peer;
}

function envelopeOf(from: number, out: PeerOut): PeerMessage<RaftMessage> {
  switch (out.kind) {
    case "raft":
      return { from, to: out.to, kind: "raft", body: out.message };
    case "data-request":
      return { from, to: out.to, kind: "data-request", body: out.request };
    case "data-reply":
      return { from, to: out.to, kind: "data-reply", body: out.reply };
  }
}

function effectFields(
  effect: Exclude<StateEffect, { type: "ignored" | "clock" }>,
): Record<string, unknown> {
  switch (effect.type) {
    case "restored":
      return {};
    case "member-added":
    case "member-updated":
      return { member: effect.member.id, endpoint: effect.member.endpoint };
    case "member-removed":
      return { member: effect.id };
    case "insync-changed":
      return { partition: effect.partition, insync: effect.ids };
  }
}

/**
 * Binds `socket` on the bind host and returns the endpoint others dial: the advertised address
 * with the port actually bound (port 0 picks one).
 */
export async function bindOrExplain(
  socket: { bind(endpoint: string): Promise<string> },
  at: { host: string; advertise: string },
  port: number,
  flag: string,
): Promise<string> {
  const endpoint = formatTcpEndpoint(at.host, port);
  try {
    const bound = parseTcpEndpoint(await socket.bind(endpoint), { isPortZeroAllowed: true });
    if (bound === null) throw new ConfigError(`bound ${endpoint} but cannot read its port`);
    return formatTcpEndpoint(at.advertise, bound.port);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `cannot listen on ${endpoint} (${flag}): ${reason}; is another process using that port?`,
    );
  }
}


/** Changes (rows) the data-plane writes of one commit append. */
function changesIn(writes: readonly ReplicaWrite[]): number {
  let count = 0;
  for (const write of writes) if (write.type === "append") count += write.changes.length;
  return count;
}
