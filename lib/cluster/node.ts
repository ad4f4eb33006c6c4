// The node's shell: owns the sockets, the store and the one timer, and wires them to the pure
// membership core, the replica and (while leading) the coordinator. Requests from clients and
// peers arrive on the ROUTER; heartbeats go out on the PUB and come in on the SUB.
import { ConfigError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { replicasOf } from "../placement.ts";
import {
  type HeartbeatInfo,
  type MemberInfo,
  HEARTBEAT_TOPIC,
  encodeJson,
  errorReply,
  parseHeartbeat,
} from "../protocol.ts";
import { GroupCommitter, KvStore } from "../store/index.ts";
import { type CurveOptions, Publisher, Router, Subscriber, bytesToString } from "../zmtp/index.ts";
import { type NodeCurve, isMemberKey, peerCurve, serverCurve } from "./curve-security.ts";
import { Coordinator } from "./coordinator.ts";
import { type Member, type MembershipChange, Membership } from "./membership.ts";
import { PeerLinks } from "./peer-links.ts";
import { handleClientRequest, requestIdOf } from "./client-handlers.ts";
import { handlePeerRequest, isPeerOp } from "./peer-handlers.ts";
import { Replica } from "./replica.ts";
import {
  type ClusterState,
  bindOrExplain,
  bootstrapState,
  joinCluster,
  loadClusterState,
  saveClusterState,
  saveNodeId,
  withSelf,
} from "./bootstrap.ts";

export interface NodeSettings {
  id: number;
  host: string;
  port: number;
  pubPort: number;
  rf: number | undefined;
  join: string[];
  dataDir: string;
  partitions: number;
  heartbeatMs: number;
  suspectMs: number;
  valueBytesMax: number;
  minInsync: number;
  requestTimeoutMs: number;
  /** CURVE on every socket (curve-security.ts); absent: NULL, no encryption. */
  curve?: NodeCurve;
}

/** Socket options for CURVE, or none. */
function withCurve(curve: CurveOptions | undefined): { curve?: CurveOptions } {
  return curve === undefined ? {} : { curve };
}

/** Suspect windows without any leader after which a restarted node trusts its own data. */
const BOOT_GRACE_SUSPECT_MULTIPLE = 3;
/** Ticks between two catch-up requests for the same partition. */
const CATCH_UP_RETRY_TICKS = 10;
/** Partitions copied at once while catching up. */
const CATCH_UP_PARALLEL_MAX = 8;

export class WarehouseNode {
  readonly settings: NodeSettings;
  readonly log: Logger;
  readonly store: KvStore;
  readonly replica: Replica;
  readonly membership: Membership;
  readonly peers: PeerLinks;
  readonly endpoint: string;
  readonly pub: string;
  state: ClusterState;
  coordinator: Coordinator | null = null;
  /** In-sync sets as the current leader last published them. */
  knownInsync: number[][];
  private readonly committer: GroupCommitter;
  private readonly router: Router;
  private readonly publisher: Publisher;
  private readonly subscriber: Subscriber;
  private readonly subscribedPubs = new Map<number, string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly catchUpAskedTick = new Map<number, number>();
  /** Partitions this node neither holds nor is placed on, checked and found empty. */
  private readonly surplusEmpty = new Set<number>();
  private catchUpInFlight = 0;
  private lastLeaderSeenTick = 0;
  /**
   * Whether knownInsync says where this node stands: true once a leader's heartbeat has given
   * its in-sync sets (or this node bootstrapped, or trusts its own data after the boot grace).
   * The sets stored on disk are from before a restart: acting on them, a node that missed writes
   * while it was down would count itself in sync and could even take the lead.
   */
  private isInsyncKnown: boolean;
  /** The leader's last heartbeat listed this node as alive: the leader will send it writes. */
  private isSeenByLeader = false;
  private isInsyncPublishScheduled = false;
  /** Each peer's insyncTerm from its heartbeats (see checkBootGrace). */
  private readonly peerInsyncTerms = new Map<number, number>();
  private didWarnUnderReplicated = false;
  private isStopped = false;

  private constructor(init: {
    settings: NodeSettings;
    log: Logger;
    store: KvStore;
    router: Router;
    publisher: Publisher;
    endpoint: string;
    pub: string;
    state: ClusterState;
    isCaughtUp: boolean;
  }) {
    this.settings = init.settings;
    this.log = init.log;
    this.store = init.store;
    this.router = init.router;
    this.publisher = init.publisher;
    this.endpoint = init.endpoint;
    this.pub = init.pub;
    this.state = init.state;
    this.knownInsync = init.state.insync.map((ids) => [...ids]);
    this.isInsyncKnown = init.isCaughtUp;
    this.committer = new GroupCommitter(this.store);
    this.replica = new Replica(this.store, this.committer);
    const peerSecurity = init.settings.curve && peerCurve(init.settings.curve);
    this.subscriber = new Subscriber({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 400,
      ...withCurve(peerSecurity),
    });
    this.subscriber.subscribe(HEARTBEAT_TOPIC);
    this.peers = new PeerLinks(peerSecurity);
    const self: Member = { id: init.settings.id, endpoint: init.endpoint, pub: init.pub };
    const suspectTicks = Math.max(
      2,
      Math.ceil(init.settings.suspectMs / init.settings.heartbeatMs),
    );
    // Terms only grow: the stored rows carry the terms this node has seen, even if the stored
    // term is behind them (it is saved only on a leader change).
    const term = Math.max(init.state.term, init.store.maxTerm());
    this.membership = new Membership(self, init.state.members, suspectTicks, term);
    for (const m of init.state.members) this.onMemberKnown(m);
    this.apply(this.membership.setSelfCaughtUp(init.isCaughtUp));
  }

  /** Opens the store, binds, joins or bootstraps, starts the loop. Throws KvError on refusal. */
  static async start(settings: NodeSettings, log: Logger): Promise<WarehouseNode> {
    const store = KvStore.open(`${settings.dataDir}/warehouse.sqlite`);
    const serverSecurity = settings.curve && serverCurve(settings.curve);
    const router = new Router({
      routerHandover: true,
      maxMessageBytes: settings.valueBytesMax * 6 + 65536,
      ...withCurve(serverSecurity),
    });
    const publisher = new Publisher({ sendHwm: 100, ...withCurve(serverSecurity) });
    const joinSettings = { ...settings, ...withPeerCurve(settings.curve) };
    try {
      const endpoint = await bindOrExplain(router, settings.host, settings.port, "--port");
      const pub = await bindOrExplain(publisher, settings.host, settings.pubPort, "--pub-port");
      const self: Member = { id: settings.id, endpoint, pub };
      const loaded = loadClusterState(store, settings);
      let state: ClusterState;
      let isCaughtUp: boolean;
      if (loaded === null && settings.join.length === 0) {
        state = bootstrapState(self, settings);
        isCaughtUp = true;
        log.info("bootstrap", { rf: state.rf, partitions: state.partitions });
      } else if (loaded === null) {
        state = await joinCluster(self, joinSettings, null, log);
        isCaughtUp = false;
      } else {
        state = loaded;
        const seeds =
          settings.join.length > 0
            ? settings.join
            : loaded.members.filter((m) => m.id !== self.id).map((m) => m.endpoint);
        if (seeds.length > 0) {
          state = await joinCluster(self, { ...joinSettings, join: seeds }, loaded, log);
        }
        state = { ...state, members: withSelf(state.members, self) };
        isCaughtUp = false;
      }
      if (settings.minInsync > state.rf) {
        throw new ConfigError(
          `--min-insync ${settings.minInsync} is more than the cluster's ` +
            `replication factor ${state.rf}: no write could ever be acknowledged`,
        );
      }
      saveNodeId(store, settings.id);
      saveClusterState(store, state);
      return new WarehouseNode({
        settings,
        log,
        store,
        router,
        publisher,
        endpoint,
        pub,
        state,
        isCaughtUp,
      }).run();
    } catch (error) {
      await Promise.all([router.close(), publisher.close()]);
      store.close();
      throw error;
    }
  }

  private run(): this {
    this.timer = setInterval(() => this.onTick(), this.settings.heartbeatMs);
    void this.serveRequests();
    void this.readHeartbeats();
    this.publishHeartbeat();
    return this;
  }

  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    clearInterval(this.timer);
    await Promise.all([
      this.router.close(),
      this.publisher.close(),
      this.subscriber.close(),
      this.peers.close(),
    ]);
    this.committer.flush();
    this.committer.close();
    this.store.close();
  }

  // ---- the loop ---------------------------------------------------------------------------

  private onTick(): void {
    if (this.isStopped) return;
    this.apply(this.membership.tick());
    if (this.membership.leaderId !== null) this.lastLeaderSeenTick = this.membership.tickCount;
    this.checkBootGrace();
    this.driveCatchUp();
    this.warnIfUnderReplicated();
    this.publishHeartbeat();
  }

  /** Carries out what the membership core decided. */
  private apply(changes: MembershipChange[]): void {
    for (const change of changes) {
      switch (change.type) {
        case "member-added":
          this.log.info("member_added", {
            member: change.member.id,
            endpoint: change.member.endpoint,
          });
          this.onMemberKnown(change.member);
          this.state = { ...this.state, members: this.membership.members() };
          saveClusterState(this.store, this.state);
          this.coordinator?.onMembersChanged();
          break;
        case "member-up":
          this.log.info("member_up", { member: change.id });
          break;
        case "member-down":
          this.log.warn("member_down", { member: change.id });
          this.peers.reset(change.id);
          this.coordinator?.onMemberDown();
          break;
        case "leader-changed":
          this.onLeaderChanged(change.leaderId, change.term);
          break;
      }
    }
  }

  private onLeaderChanged(leaderId: number | null, term: number): void {
    this.log.info("leader_changed", { leader: leaderId, term });
    this.state = { ...this.state, term };
    saveClusterState(this.store, this.state);
    if (leaderId !== this.settings.id) {
      this.coordinator = null;
      return;
    }
    this.coordinator = new Coordinator({
      facts: () => ({
        selfId: this.settings.id,
        term: this.membership.term,
        rf: this.state.rf,
        partitions: this.state.partitions,
        minInsync: this.settings.minInsync,
        memberIds: this.membership.memberIds(),
        isAlive: (id) => this.membership.isAlive(id),
      }),
      self: this.replica,
      peers: this.peers.link(this.settings.requestTimeoutMs),
      log: this.log,
      insync: this.knownInsync,
      // Continuing from the highest seq held keeps versions unique even if two nodes ever led
      // in the same term (each from its own view); a fresh term alone would restart at 1.
      seqStart: (partition) => this.store.maxSeq(partition),
      onInsyncChanged: () => this.onInsyncChanged(),
    });
    this.coordinator.onMembersChanged();
    this.onInsyncChanged();
  }

  private onInsyncChanged(): void {
    if (this.coordinator === null) return;
    this.knownInsync = this.coordinator.insyncMap();
    this.state = { ...this.state, insync: this.knownInsync, insyncTerm: this.membership.term };
    saveClusterState(this.store, this.state);
    // Followers learn the sets only from heartbeats, and one that takes over with an old copy
    // can find no live in-sync replica of a partition that has one (a replica that just caught
    // up): tell them now rather than at the next tick, once per turn however many changed.
    if (!this.isInsyncPublishScheduled) {
      this.isInsyncPublishScheduled = true;
      setImmediate(() => {
        this.isInsyncPublishScheduled = false;
        this.publishHeartbeat();
      });
    }
  }

  private onMemberKnown(member: Member): void {
    if (member.id === this.settings.id) return;
    this.peers.set(member.id, member.endpoint);
    const previous = this.subscribedPubs.get(member.id);
    if (previous === member.pub) return;
    if (previous !== undefined) this.subscriber.disconnect(previous);
    this.subscriber.connect(member.pub);
    this.subscribedPubs.set(member.id, member.pub);
  }

  /** A term seen in a peer's request (peer-handlers' replicate). */
  observeTerm(term: number): void {
    this.apply(this.membership.observeTerm(term));
  }

  /** A node the cluster admitted through us (peer-handlers' join). */
  admit(member: Member): void {
    this.apply(this.membership.addMember(member));
  }

  // ---- catch-up ---------------------------------------------------------------------------

  /** Partitions placement gives this node that the leader does not count it in sync for. */
  private lagging(): number[] {
    const ids = this.membership.memberIds();
    const out: number[] = [];
    for (let p = 0; p < this.state.partitions; p++) {
      const insync = this.knownInsync[p] ?? [];
      if (insync.includes(this.settings.id)) continue;
      if (replicasOf(p, ids, this.state.rf).includes(this.settings.id)) out.push(p);
    }
    return out;
  }

  private driveCatchUp(): void {
    if (!this.isInsyncKnown) return;
    const leaderId = this.membership.leaderId;
    const lagging = this.lagging();
    if (lagging.length === 0) {
      if (!this.membership.isCaughtUp(this.settings.id))
        this.apply(this.membership.setSelfCaughtUp(true));
      this.dropSurplusPartitions();
      return;
    }
    if (leaderId === null) return;
    // A leader that does not see us alive would not send us the live writes of a partition
    // being copied, and would refuse to count us in sync: wait until our heartbeats reach it.
    if (leaderId !== this.settings.id && !this.isSeenByLeader) return;
    const now = this.membership.tickCount;
    for (const partition of lagging) {
      if (this.catchUpInFlight >= CATCH_UP_PARALLEL_MAX) return;
      if (now - (this.catchUpAskedTick.get(partition) ?? -Infinity) < CATCH_UP_RETRY_TICKS)
        continue;
      this.catchUpAskedTick.set(partition, now);
      this.catchUpInFlight++;
      // Our own coordinator updates knownInsync itself; a remote leader tells us by heartbeat.
      const work =
        leaderId === this.settings.id && this.coordinator !== null
          ? this.coordinator.catchUp(this.settings.id, partition)
          : this.peers.catchUp(leaderId, this.settings.id, partition);
      work
        .then(() => this.log.info("caught_up", { partition }))
        .catch((error: unknown) =>
          this.log.warn("catch_up_failed", { partition, error: String(error) }),
        )
        .finally(() => this.catchUpInFlight--);
    }
  }

  /** After a join moved a partition away, the old holder drops its copy once the leader agrees. */
  private dropSurplusPartitions(): void {
    if (this.membership.leaderId === null) return;
    const ids = this.membership.memberIds();
    for (let p = 0; p < this.state.partitions; p++) {
      const isHeld =
        (this.knownInsync[p] ?? []).includes(this.settings.id) ||
        replicasOf(p, ids, this.state.rf).includes(this.settings.id);
      if (isHeld) {
        this.surplusEmpty.delete(p);
        continue;
      }
      // No write reaches a partition we neither hold nor are placed on, so once it is empty
      // it stays empty: no need to ask sqlite again every tick.
      if (this.surplusEmpty.has(p)) continue;
      if (this.replica.hasRows(p)) {
        const n = this.replica.dropPartition(p);
        this.log.info("partition_dropped", { partition: p, rows: n });
      }
      this.surplusEmpty.add(p);
    }
  }

  /**
   * With no leader at all for a while (the whole cluster restarted), trust our own data, unless
   * a live member knows newer in-sync sets (a higher insyncTerm: it was there after we left,
   * and our sets may count us in sync for writes we never got), or equally new ones and has a
   * lower id. That member trusts itself instead and leads; we catch up from it. Only one node
   * trusting itself also keeps two leaders from starting in the same new term.
   */
  private checkBootGrace(): void {
    if (this.membership.isCaughtUp(this.settings.id)) return;
    const graceTicks =
      BOOT_GRACE_SUSPECT_MULTIPLE * Math.ceil(this.settings.suspectMs / this.settings.heartbeatMs);
    if (this.membership.tickCount - this.lastLeaderSeenTick < graceTicks) return;
    const ownTerm = this.state.insyncTerm;
    const outranked = this.membership.memberIds().some((id) => {
      if (id === this.settings.id || !this.membership.isAlive(id)) return false;
      const theirs = this.peerInsyncTerms.get(id) ?? 0;
      return theirs > ownTerm || (theirs === ownTerm && id < this.settings.id);
    });
    if (outranked) return;
    this.log.info("no_leader_trusting_local_data", {});
    this.isInsyncKnown = true;
    this.apply(this.membership.setSelfCaughtUp(true));
  }

  private warnIfUnderReplicated(): void {
    const live = this.membership.aliveCount();
    if (live < this.state.rf) {
      if (!this.didWarnUnderReplicated) {
        this.log.warn("under_replicated", {
          message: `cluster size (${live}) is smaller than replication factor (${this.state.rf})`,
        });
      }
      this.didWarnUnderReplicated = true;
    } else {
      this.didWarnUnderReplicated = false;
    }
  }

  // ---- heartbeats -------------------------------------------------------------------------

  heartbeatInfo(): HeartbeatInfo & { caughtUp: boolean; insyncTerm: number; insync?: number[][] } {
    const leaderId = this.membership.leaderId;
    const leader = leaderId === null ? null : this.membership.member(leaderId);
    const members: MemberInfo[] = this.membership.members().map((m) => ({
      ...m,
      alive: this.membership.isAlive(m.id),
    }));
    const isCaughtUp = this.membership.isCaughtUp(this.settings.id);
    return {
      node: { id: this.settings.id, endpoint: this.endpoint, pub: this.pub },
      role: this.membership.isLeader ? "leader" : isCaughtUp ? "follower" : "joining",
      term: this.membership.term,
      leader:
        leader === undefined || leader === null
          ? null
          : { id: leader.id, endpoint: leader.endpoint },
      rf: this.state.rf,
      partitions: this.state.partitions,
      members,
      caughtUp: isCaughtUp,
      insyncTerm: this.state.insyncTerm,
      ...(this.coordinator !== null ? { insync: this.coordinator.insyncMap() } : {}),
    };
  }

  private publishHeartbeat(): void {
    if (this.isStopped) return;
    void this.publisher
      .send([HEARTBEAT_TOPIC, encodeJson(this.heartbeatInfo())])
      .catch(() => undefined);
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
      const info = parseHeartbeat(raw);
      if (info === null) continue;
      const extra = raw as { caughtUp?: unknown; insync?: unknown; insyncTerm?: unknown };
      if (Number.isSafeInteger(extra.insyncTerm)) {
        this.peerInsyncTerms.set(info.node.id, extra.insyncTerm as number);
      }
      this.apply(
        this.membership.onHeartbeat({
          id: info.node.id,
          endpoint: info.node.endpoint,
          pub: info.node.pub,
          term: info.term,
          isCaughtUp: extra.caughtUp === true,
          members: info.members,
        }),
      );
      if (info.role === "leader" && info.node.id === this.membership.leaderId) {
        this.isSeenByLeader = info.members.some((m) => m.id === this.settings.id && m.alive);
        const insync = parseInsync(extra.insync, this.state.partitions);
        if (insync !== null) this.adoptInsync(insync, info.term);
      }
    }
  }

  private adoptInsync(insync: number[][], term: number): void {
    this.isInsyncKnown = true;
    const changed =
      JSON.stringify(insync) !== JSON.stringify(this.knownInsync) || term !== this.state.insyncTerm;
    this.knownInsync = insync;
    if (changed) {
      this.state = { ...this.state, insync, insyncTerm: term };
      saveClusterState(this.store, this.state);
    }
  }

  // ---- requests ---------------------------------------------------------------------------

  private async serveRequests(): Promise<void> {
    for await (const frames of this.router) {
      const body = frames[frames.length - 1] as Uint8Array;
      const envelope = frames.slice(0, -1);
      const curve = this.settings.curve;
      const senderKey = this.router.peerPublicKey(frames[0] as Uint8Array);
      const isMember = curve === undefined || isMemberKey(curve, senderKey);
      // Each request runs on its own so a slow write never holds up the rest.
      void this.handle(body, isMember)
        .catch((error: unknown) => {
          this.log.error("request_failed", { error: String(error) });
          // A bug must not leave the sender waiting for a reply that never comes.
          const message = "internal error while handling the request";
          return errorReply(requestIdOf(body), "UNAVAILABLE", message);
        })
        .then((reply) => this.router.send([...envelope, encodeJson(reply)]).catch(() => undefined));
    }
  }

  /** `isMember`: the sender proved the cluster key (always true without CURVE). */
  private async handle(body: Uint8Array, isMember: boolean): Promise<unknown> {
    if (frameLooksLikePeerOp(body)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytesToString(body));
      } catch {
        parsed = null;
      }
      if (isPeerOp(parsed) && !isMember) {
        return errorReply(requestIdOf(body), "BAD_REQUEST", "peer requests need the cluster key");
      }
      if (isPeerOp(parsed)) return handlePeerRequest(this, parsed);
    }
    return handleClientRequest(this, body);
  }
}

function withPeerCurve(curve: NodeCurve | undefined): { peerCurve?: CurveOptions } {
  return curve === undefined ? {} : { peerCurve: peerCurve(curve) };
}

/** Cheap pre-check so client requests are parsed once: peer ops all start with "PEER_". */
function frameLooksLikePeerOp(body: Uint8Array): boolean {
  return bytesToString(body.subarray(0, 64)).includes('"PEER_');
}

function parseInsync(value: unknown, partitions: number): number[][] | null {
  if (!Array.isArray(value) || value.length !== partitions) return null;
  const out: number[][] = [];
  for (const ids of value) {
    if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) return null;
    out.push(ids as number[]);
  }
  return out;
}
