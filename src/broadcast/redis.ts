// Broadcasting across nodes on Redis: messages over pub/sub, presence in hashes every node reads,
// and a heartbeat per node so the members of a node that died are removed by the others.
import { closeClient, connect, type RedisClient, type RedisConnection } from "../store/redis/connection.ts";
import { LuaScript } from "../store/redis/scripts.ts";
import { reportError } from "../util/report-error.ts";
import type { BroadcastBackend, BroadcastMessage, JoinResult, LeaveResult, PresenceMember } from "./backend.ts";
import { uniqueMembers } from "./backend.ts";

/*
 * Presence: one hash per channel, field "<nodeId>|<socketId>" → member JSON; a set lists the
 * channels that have members. Scripts answer per user, so member_added/removed go out once
 * however many sockets (on however many nodes) a user has.
 */

// KEYS[1] channel hash, KEYS[2] channel set   ARGV: field, member JSON, user id, channel
const JOIN = `
local first = 1
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).user_id == ARGV[3] then first = 0 break end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return { first, redis.call('HVALS', KEYS[1]) }
`;

// KEYS[1] channel hash, KEYS[2] channel set   ARGV: field, channel   Returns {} | { member JSON, last (0/1) }
const LEAVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return {} end
redis.call('HDEL', KEYS[1], ARGV[1])
local uid = cjson.decode(v).user_id
local last = 1
for _, o in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(o).user_id == uid then last = 0 break end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return { v, last }
`;

// KEYS[1] channel set   ARGV: channel hash prefix, node key prefix
// Drops members whose node has no heartbeat key; returns { channel, member JSON, … } for users gone.
const SWEEP = `
local removed = {}
for _, ch in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = ARGV[1] .. ch
  local all = redis.call('HGETALL', h)
  local alive, dead, living = 0, {}, {}
  for i = 1, #all, 2 do
    local node = string.match(all[i], '^([^|]+)|')
    if redis.call('EXISTS', ARGV[2] .. node) == 1 then
      alive = alive + 1
      living[cjson.decode(all[i + 1]).user_id] = true
    else
      table.insert(dead, { all[i], all[i + 1] })
    end
  end
  local gone = {}
  for _, d in ipairs(dead) do
    redis.call('HDEL', h, d[1])
    local uid = cjson.decode(d[2]).user_id
    if not living[uid] and not gone[uid] then
      gone[uid] = true
      table.insert(removed, ch)
      table.insert(removed, d[2])
    end
  end
  if alive == 0 then redis.call('SREM', KEYS[1], ch) end
end
return removed
`;

const SCRIPTS = {
  join: new LuaScript("broadcast:join", JOIN, ""),
  leave: new LuaScript("broadcast:leave", LEAVE, ""),
  sweep: new LuaScript("broadcast:sweep", SWEEP, ""),
};

export interface RedisBroadcastOptions {
  /** An ioredis client, a `redis://` URL, or an unstorage storage on the redis driver. */
  connection: RedisConnection;
  /** First part of every key and of the pub/sub channel. @default "conveyor:bc" */
  prefix?: string;
  /** How often this node says it is alive. @default 5_000 */
  heartbeatMs?: number;
  /** A node silent this long is taken for dead: its presence members are removed. @default 15_000 */
  nodeTimeoutMs?: number;
}

export class RedisBroadcastBackend implements BroadcastBackend {
  readonly nodeId = crypto.randomUUID();
  readonly sharedAcrossProcesses = true;
  readonly #connection: Promise<{ client: RedisClient; owned: boolean }>;
  readonly #prefix: string;
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  #subscriber: RedisClient | undefined;
  #deliverLocal: ((message: BroadcastMessage) => void) | undefined;
  #heartbeat: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: RedisBroadcastOptions) {
    this.#connection = connect(options.connection);
    this.#connection.catch(() => {});
    this.#prefix = options.prefix ?? "conveyor:bc";
    this.#heartbeatMs = options.heartbeatMs ?? 5_000;
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 15_000;
    if (!(this.#nodeTimeoutMs > this.#heartbeatMs)) throw new RangeError("nodeTimeoutMs must be longer than heartbeatMs");
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
    const [first, values] = await SCRIPTS.join.run(client, [this.#key(`presence:${channel}`), this.#key("presence-channels")], [
      `${this.nodeId}|${socketId}`,
      JSON.stringify(member),
      member.user_id,
      channel,
    ]) as [number, string[]];
    return { firstForUser: first === 1, members: uniqueMembers(values.map((v) => JSON.parse(v) as PresenceMember)) };
  }

  async leave(channel: string, socketId: string): Promise<LeaveResult> {
    const { client } = await this.#connection;
    const reply = await SCRIPTS.leave.run(client, [this.#key(`presence:${channel}`), this.#key("presence-channels")], [`${this.nodeId}|${socketId}`, channel]) as
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
    const flat = await SCRIPTS.sweep.run(client, [this.#key("presence-channels")], [this.#key("presence:"), this.#key("node:")]) as string[];
    const removed: { channel: string; member: PresenceMember }[] = [];
    for (let i = 0; i < flat.length; i += 2) removed.push({ channel: flat[i]!, member: JSON.parse(flat[i + 1]!) as PresenceMember });
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#heartbeat);
    this.#deliverLocal = undefined;
    const { client, owned } = await this.#connection.catch(() => ({ client: undefined, owned: false }));
    if (this.#subscriber) await closeClient(this.#subscriber);
    if (!client) return;
    await client.call("DEL", this.#key(`node:${this.nodeId}`)).catch(() => {});
    if (owned) await closeClient(client);
  }

  async #beat(client: RedisClient): Promise<void> {
    try {
      await client.call("SET", this.#key(`node:${this.nodeId}`), "1", "PX", this.#nodeTimeoutMs);
    } catch (error) {
      reportError(error, "broadcast heartbeat to Redis failed");
    }
    if (!this.#closed) this.#heartbeat = setTimeout(() => void this.#beat(client), this.#heartbeatMs);
  }

  #key(suffix: string): string {
    return `${this.#prefix}:${suffix}`;
  }
}
