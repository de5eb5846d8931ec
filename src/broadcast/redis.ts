// Broadcasting across nodes on Redis: messages over pub/sub, presence in hashes every node reads,
// and a heartbeat per node so the members of a node that died are removed by the others.
import * as v from "valibot";
import { type Clock, systemClock, type TimerHandle } from "../core/clock.ts";
import { parseArgument } from "../core/validation.ts";
import { closeClient, connect, type RedisClient, type RedisConnection } from "../store/redis/connection.ts";
import { CallGuard } from "../store/redis/availability.ts";
import { probeRedis } from "../store/redis/health.ts";
import type { HealthProbe } from "../core/health-types.ts";
import { reportError } from "../util/report-error.ts";
import type { BroadcastBackend, BroadcastMessage, JoinResult, LeaveResult, PresenceMember } from "./backend.ts";
import { uniqueMembers } from "./backend.ts";
import { BROADCAST_SCRIPTS, type BroadcastScripts, type HeartbeatClock } from "./redis-scripts.ts";

export type { HeartbeatClock };

export interface RedisBroadcastOptions {
  /** An ioredis client, a `redis://` URL, or an unstorage storage on the redis driver. */
  connection: RedisConnection;
  /** First part of every key and of the pub/sub channel. @default "conveyor:bc" */
  prefix?: string;
  /** How often this node says it is alive. @default 5_000 */
  heartbeatMs?: number;
  /** A node silent this long is taken for dead: its presence members are removed. @default 15_000 */
  nodeTimeoutMs?: number;
  /** Times the heartbeats, and is the heartbeat clock's "now" on `"caller"`. @default systemClock */
  clock?: Clock;
  /**
   * Whose clock judges heartbeats. `"server"`: Redis's own (TIME), so nodes whose clocks
   * disagree never take each other for dead. `"caller"`: each node's `clock`, for driving the
   * sweep with fake time (give every node, and the Broadcaster, the same FakeClock); safe in
   * production only when the nodes' clocks agree to well within `nodeTimeoutMs - heartbeatMs`.
   * @default "server"
   */
  heartbeatClock?: HeartbeatClock;
}

export const REDIS_BROADCAST_DEFAULTS = Object.freeze({
  prefix: "conveyor:bc",
  heartbeatMs: 5_000,
  nodeTimeoutMs: 15_000,
  heartbeatClock: "server" as HeartbeatClock,
});

const OptionsSchema = v.object({
  prefix: v.optional(v.pipe(v.string(), v.minLength(1))),
  heartbeatMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  nodeTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2))),
  heartbeatClock: v.optional(v.picklist(["server", "caller"])),
});

/** Calls of `health()`; the report bounds them too, this only keeps ioredis from holding them. */
const HEALTH_GUARD = /* @__PURE__ */ new CallGuard(2_000, "Redis (broadcasting)");

export class RedisBroadcastBackend implements BroadcastBackend {
  #nodeId: string | undefined;
  /** Made on first use: Workers forbid random values at module scope, where apps build backends. */
  get nodeId(): string {
    return this.#nodeId ??= crypto.randomUUID();
  }
  readonly sharedAcrossProcesses = true;
  readonly #connection: Promise<{ client: RedisClient; owned: boolean }>;
  readonly #prefix: string;
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  readonly #clock: Clock;
  readonly #scripts: BroadcastScripts;
  #subscriber: RedisClient | undefined;
  #deliverLocal: ((message: BroadcastMessage) => void) | undefined;
  #heartbeat: TimerHandle | undefined;
  #closed = false;

  constructor(options: RedisBroadcastOptions) {
    const o = parseArgument(OptionsSchema, options, "RedisBroadcastBackend options");
    this.#prefix = o.prefix ?? REDIS_BROADCAST_DEFAULTS.prefix;
    this.#heartbeatMs = o.heartbeatMs ?? REDIS_BROADCAST_DEFAULTS.heartbeatMs;
    this.#nodeTimeoutMs = o.nodeTimeoutMs ?? REDIS_BROADCAST_DEFAULTS.nodeTimeoutMs;
    if (!(this.#nodeTimeoutMs > this.#heartbeatMs)) {
      throw new RangeError(`nodeTimeoutMs must be longer than heartbeatMs (${this.#heartbeatMs}), got ${this.#nodeTimeoutMs}`);
    }
    this.#clock = options.clock ?? systemClock;
    this.#scripts = BROADCAST_SCRIPTS[o.heartbeatClock ?? REDIS_BROADCAST_DEFAULTS.heartbeatClock];
    this.#connection = connect(options.connection);
    this.#connection.catch(() => {});
  }

  async start(deliver: (message: BroadcastMessage) => void): Promise<void> {
    const { client } = await this.#connection;
    this.#deliverLocal = deliver;
    await this.#beat(client);
    const subscriber = this.#subscriber = client.duplicate();
    subscriber.on("message", (_channel, text) => {
      try {
        const { n, m } = JSON.parse(text) as { n: string; m: BroadcastMessage };
        if (n !== this.nodeId) deliver(m);
      } catch (error) {
        reportError(error, "a broadcast message from Redis could not be read");
      }
    });
    await subscriber.subscribe(this.#key("messages"));
  }

  async publish(message: BroadcastMessage): Promise<void> {
    // This node's sockets get it at once; the others through Redis.
    this.#deliverLocal?.(message);
    const { client } = await this.#connection;
    await client.call("PUBLISH", this.#key("messages"), JSON.stringify({ n: this.nodeId, m: message }));
  }

  async join(channel: string, socketId: string, member: PresenceMember): Promise<JoinResult> {
    const { client } = await this.#connection;
    const [first, values] = await this.#scripts.join.run(client, [this.#key(`presence:${channel}`), this.#key("presence-channels")], [
      `${this.nodeId}|${socketId}`,
      JSON.stringify(member),
      member.user_id,
      channel,
    ]) as [number, string[]];
    return { firstForUser: first === 1, members: uniqueMembers(values.map((v) => JSON.parse(v) as PresenceMember)) };
  }

  async leave(channel: string, socketId: string): Promise<LeaveResult> {
    const { client } = await this.#connection;
    const reply = await this.#scripts.leave.run(client, [this.#key(`presence:${channel}`), this.#key("presence-channels")], [`${this.nodeId}|${socketId}`, channel]) as
      | []
      | [string, number];
    if (reply.length === 0) return { member: null, lastForUser: false };
    return { member: JSON.parse(reply[0]) as PresenceMember, lastForUser: reply[1] === 1 };
  }

  async members(channel: string): Promise<readonly PresenceMember[]> {
    const { client } = await this.#connection;
    const values = await client.call("HVALS", this.#key(`presence:${channel}`)) as string[];
    return uniqueMembers(values.map((v) => JSON.parse(v) as PresenceMember));
  }

  async sweep(): Promise<readonly { channel: string; member: PresenceMember }[]> {
    const { client } = await this.#connection;
    const sweep = this.#scripts.sweep.run(client, [this.#key("presence-channels"), this.#key("nodes")], [this.#clock.now(), this.#key("presence:")]);
    const flat = await this.#track(sweep) as string[];
    const removed: { channel: string; member: PresenceMember }[] = [];
    for (let i = 0; i < flat.length; i += 2) removed.push({ channel: flat[i]!, member: JSON.parse(flat[i + 1]!) as PresenceMember });
    return removed;
  }

  /** The connection and a PING, bounded (a health check must not wait on ioredis's offline queue). */
  async health(): Promise<HealthProbe> {
    const { client } = await this.#connection;
    return await probeRedis(client, HEALTH_GUARD);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== undefined) this.#clock.clearTimeout(this.#heartbeat);
    this.#deliverLocal = undefined;
    const { client, owned } = await this.#connection.catch(() => ({ client: undefined, owned: false }));
    if (this.#subscriber) await closeClient(this.#subscriber);
    if (!client) return;
    await client.call("ZREM", this.#key("nodes"), this.nodeId).catch(() => {});
    if (owned) await closeClient(client);
  }

  async #beat(client: RedisClient): Promise<void> {
    this.#heartbeat = undefined;
    try {
      await this.#track(this.#scripts.beat.run(client, [this.#key("nodes")], [this.#clock.now(), this.nodeId, this.#nodeTimeoutMs]));
    } catch (error) {
      reportError(error, "broadcast heartbeat to Redis failed");
    }
    if (!this.#closed) this.#heartbeat = this.#clock.setTimeout(() => void this.#beat(client), this.#heartbeatMs);
  }

  /** Round trips judged by time: a clock that moves only when told (FakeClock) may wait for them. */
  #track<T>(work: Promise<T>): Promise<T> {
    return this.#clock.track ? this.#clock.track(work) : work;
  }

  #key(suffix: string): string {
    return `${this.#prefix}:${suffix}`;
  }
}
