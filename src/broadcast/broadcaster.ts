// The hub: sockets and their channels on this node, fan-out through a backend to every node.
import * as v from "valibot";
import { type Clock, systemClock } from "../core/clock.ts";
import { parseArgument } from "../core/validation.ts";
import { reportError } from "../util/report-error.ts";
import { type BroadcastBackend, type BroadcastMessage, MemoryBroadcastBackend, type PresenceMember } from "./backend.ts";
import { Connection, type ConnectionHub, type SocketLike } from "./connection.ts";
import { ChannelNameSchema, channelKind, CLOSE, frame, PROTOCOL_VERSION } from "./protocol.ts";
import { Signer } from "./signature.ts";

/** Who asks to join a channel, as the auth endpoint knows them (from the JWT). */
export interface ChannelUser {
  readonly subject: string | null;
  readonly scopes: ReadonlySet<string>;
}

/**
 * Decides whether `user` may join `channel`: `false` refuses, `true` admits (private channels),
 * and on presence channels an object admits as that member (`id` defaults to the JWT subject).
 */
export type ChannelAuthorizer = (
  user: ChannelUser,
  channel: string,
) => boolean | { id?: string; info?: unknown } | Promise<boolean | { id?: string; info?: unknown }>;

export interface BroadcasterOptions {
  /** The Pusher app id, in the HTTP API's paths. */
  appId: string;
  /** The public key clients connect with (`new Pusher(key, …)`). */
  key: string;
  /** Signs channel auth and HTTP API requests; never sent to clients. At least 16 characters. */
  secret: string;
  /** Fan-out and presence across nodes. @default MemoryBroadcastBackend (one process) */
  backend?: BroadcastBackend;
  /** Decides channel access in the auth endpoint. @default private and presence channels refused */
  authorize?: ChannelAuthorizer;
  /** Seconds of client silence before the server pings it (sent to clients too). @default 120 */
  activityTimeoutSec?: number;
  /** A ping unanswered this long closes the connection with 4201. @default 30_000 */
  pongTimeoutMs?: number;
  /** Largest frame a client may send. @default 10_240 */
  maxMessageBytes?: number;
  /** Connections this node accepts; more are closed with 4100. @default 100_000 */
  maxConnections?: number;
  /**
   * Times liveness (pings, pong timeouts, the dead-node sweep), client-event rate limits and
   * the HTTP API's signature window. A backend takes its own (`RedisBroadcastOptions.clock`).
   * @default systemClock
   */
  clock?: Clock;
}

const OptionsSchema = v.object({
  appId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, "1–64 letters, digits, _ or -")),
  key: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, "1–64 letters, digits, _ or -")),
  secret: v.pipe(v.string(), v.minLength(16)),
  activityTimeoutSec: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3_600))),
  pongTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  maxMessageBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(64))),
  maxConnections: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

export interface PublishOptions {
  /** Leave out this socket (the sender's own), as Pusher's `socket_id`. */
  exceptSocketId?: string | null;
}

export class Broadcaster implements ConnectionHub {
  readonly appId: string;
  readonly key: string;
  readonly clock: Clock;
  readonly backend: BroadcastBackend;
  readonly maxMessageBytes: number;
  readonly activityTimeoutSec: number;
  readonly #signer: Signer;
  readonly #authorize: ChannelAuthorizer;
  readonly #pongTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #connections = new Map<string, Connection>();
  readonly #channels = new Map<string, Set<Connection>>();
  readonly #started: Promise<void>;
  #livenessTimer: ReturnType<Clock["setTimeout"]> | undefined;
  #closed = false;

  constructor(options: BroadcasterOptions) {
    const o = parseArgument(OptionsSchema, options, "broadcaster options");
    this.appId = o.appId;
    this.key = o.key;
    this.clock = options.clock ?? systemClock;
    this.backend = options.backend ?? new MemoryBroadcastBackend();
    this.maxMessageBytes = o.maxMessageBytes ?? 10_240;
    this.activityTimeoutSec = o.activityTimeoutSec ?? 120;
    this.#pongTimeoutMs = o.pongTimeoutMs ?? 30_000;
    this.#maxConnections = o.maxConnections ?? 100_000;
    this.#signer = new Signer(o.secret);
    this.#authorize = options.authorize ?? (() => false);
    this.#started = this.backend.start((message) => this.#deliver(message));
  }

  /** Resolves once the backend delivers (a subscription round trip on Redis). */
  ready(): Promise<void> {
    return this.#started;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Accepts one WebSocket whose URL was `/app/:key?protocol=7…`, or closes it with the code the
   * protocol gives. Returns the connection to feed frames to, or null.
   */
  accept(socket: SocketLike, request: { key: string; protocol: string | null }): Connection | null {
    const refuse = (code: number, reason: string) => {
      socket.send(frame("pusher:error", { code, message: reason }));
      socket.close(code, reason);
      return null;
    };
    if (this.#closed) return refuse(CLOSE.RECONNECT, "Server shutting down: reconnect");
    if (request.key !== this.key) return refuse(CLOSE.APP_NOT_FOUND, `App key ${request.key.slice(0, 64)} does not exist`);
    if (request.protocol === null) return refuse(CLOSE.PROTOCOL_MISSING, "No protocol version given (?protocol=7)");
    if (Number(request.protocol) !== PROTOCOL_VERSION) return refuse(CLOSE.PROTOCOL_UNSUPPORTED, `Protocol ${request.protocol.slice(0, 8)} is not supported; use 7`);
    if (this.#connections.size >= this.#maxConnections) return refuse(CLOSE.OVER_CAPACITY, "Over capacity: try again later");
    const connection = new Connection(this, socket, newSocketId(), this.clock.now());
    this.#connections.set(connection.socketId, connection);
    connection.send(frame("pusher:connection_established", { socket_id: connection.socketId, activity_timeout: this.activityTimeoutSec }));
    this.#armLiveness();
    return connection;
  }

  /** The socket closed: leave every channel (presence members are announced gone). */
  async disconnect(connection: Connection): Promise<void> {
    if (connection.closed) return;
    connection.closed = true;
    this.#connections.delete(connection.socketId);
    await Promise.all([...connection.channels.keys()].map((channel) => this.unsubscribe(connection, channel)));
  }

  async subscribe(connection: Connection, channel: string, member: PresenceMember | null): Promise<void> {
    let members: readonly PresenceMember[] = [];
    let first = false;
    if (member) ({ members, firstForUser: first } = await this.backend.join(channel, connection.socketId, member));
    if (connection.closed) {
      if (member) await this.backend.leave(channel, connection.socketId);
      return;
    }
    connection.channels.set(channel, member);
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, set = new Set());
    set.add(connection);
    const data = member
      ? { presence: { count: members.length, ids: members.map((m) => m.user_id), hash: Object.fromEntries(members.map((m) => [m.user_id, m.user_info])) } }
      : {};
    connection.send(frame("pusher_internal:subscription_succeeded", data, channel));
    if (member && first) {
      await this.publishRaw({ channel, event: "pusher_internal:member_added", data: JSON.stringify(member), exceptSocketId: connection.socketId });
    }
  }

  async unsubscribe(connection: Connection, channel: string): Promise<void> {
    if (!connection.channels.has(channel)) return;
    connection.channels.delete(channel);
    const set = this.#channels.get(channel);
    set?.delete(connection);
    if (set?.size === 0) this.#channels.delete(channel);
    if (channelKind(channel) !== "presence") return;
    const { member, lastForUser } = await this.backend.leave(channel, connection.socketId);
    if (member && lastForUser) await this.#memberRemoved(channel, member);
  }

  /**
   * Sends `event` to everyone on `channels`, on every node. `data` goes as is when a string,
   * else as JSON. Resolves once the backend took it.
   */
  async publish(channels: string | readonly string[], event: string, data: unknown, options: PublishOptions = {}): Promise<void> {
    const list = typeof channels === "string" ? [channels] : channels;
    for (const channel of list) parseArgument(ChannelNameSchema, channel, "channel name");
    if (typeof event !== "string" || event.length === 0 || event.length > 200) throw new TypeError("publish() needs an event name of 1–200 characters");
    const text = typeof data === "string" ? data : JSON.stringify(data ?? null);
    await Promise.all(list.map((channel) => this.publishRaw({ channel, event, data: text, exceptSocketId: options.exceptSocketId ?? null })));
  }

  /** @internal a message already checked. */
  async publishRaw(message: BroadcastMessage): Promise<void> {
    await this.backend.publish(message);
  }

  /** Whether `auth` ("key:signature") is this app's signature for the socket, channel (and channel_data). */
  async verifySubscription(socketId: string, channel: string, auth: string, channelData?: string): Promise<boolean> {
    const colon = auth.indexOf(":");
    if (colon < 0 || auth.slice(0, colon) !== this.key) return false;
    return await this.#signer.verify(signedText(socketId, channel, channelData), auth.slice(colon + 1));
  }

  /**
   * The channel auth answer for one socket, when `authorize` admits the user: `{ auth }`, plus
   * `channel_data` on presence channels. Null when refused.
   */
  async authorizeChannel(user: ChannelUser, socketId: string, channel: string): Promise<{ auth: string; channel_data?: string } | null> {
    const kind = channelKind(channel);
    if (kind === "public") return null;
    const verdict = await this.#authorize(user, channel);
    if (verdict === false) return null;
    if (kind === "private") return { auth: `${this.key}:${await this.#signer.hex(signedText(socketId, channel))}` };
    const given = typeof verdict === "object" ? verdict : {};
    const userId = given.id ?? user.subject;
    if (!userId) return null;
    const channelData = JSON.stringify({ user_id: String(userId), user_info: given.info ?? {} });
    return { auth: `${this.key}:${await this.#signer.hex(signedText(socketId, channel, channelData))}`, channel_data: channelData };
  }

  /** Signs text with the app secret (the HTTP API's request signatures). */
  sign(text: string): Promise<string> {
    return this.#signer.hex(text);
  }

  /** Channels with subscribers on this node, with their local subscriber counts. */
  localChannels(): Map<string, number> {
    return new Map([...this.#channels].map(([name, set]) => [name, set.size]));
  }

  async members(channel: string): Promise<readonly PresenceMember[]> {
    return await this.backend.members(channel);
  }

  /** Closes every socket (4200: clients reconnect, to another node) and the backend. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#livenessTimer !== undefined) this.clock.clearTimeout(this.#livenessTimer);
    for (const connection of [...this.#connections.values()]) {
      connection.socket.close(CLOSE.RECONNECT, "Server shutting down: reconnect");
      await this.disconnect(connection);
    }
    await this.backend.close();
  }

  #deliver(message: BroadcastMessage): void {
    const set = this.#channels.get(message.channel);
    if (!set) return;
    const text = frame(message.event, message.data, message.channel, message.userId ? { user_id: message.userId } : undefined);
    for (const connection of set) if (connection.socketId !== message.exceptSocketId) connection.send(text);
  }

  async #memberRemoved(channel: string, member: PresenceMember): Promise<void> {
    await this.publishRaw({ channel, event: "pusher_internal:member_removed", data: JSON.stringify({ user_id: member.user_id }) });
  }

  /** One timer for all sockets: ping the quiet ones, close those that never answered; sweep dead nodes. */
  #armLiveness(): void {
    if (this.#livenessTimer !== undefined || this.#closed) return;
    const everyMs = Math.min(5_000, this.activityTimeoutSec * 250);
    this.#livenessTimer = this.clock.setTimeout(() => {
      this.#livenessTimer = undefined;
      void this.#checkLiveness().catch((error) => reportError(error, "broadcaster liveness check"));
    }, everyMs);
  }

  async #checkLiveness(): Promise<void> {
    const now = this.clock.now();
    for (const connection of [...this.#connections.values()]) {
      if (connection.pingSentAt !== null && now - connection.pingSentAt >= this.#pongTimeoutMs) {
        connection.socket.close(CLOSE.PONG_NOT_RECEIVED, "Pong reply not received");
        await this.disconnect(connection);
      } else if (connection.pingSentAt === null && now - connection.lastSeenAt >= this.activityTimeoutSec * 1000) {
        connection.pingSentAt = now;
        connection.send(frame("pusher:ping", {}));
      }
    }
    for (const { channel, member } of await this.backend.sweep()) await this.#memberRemoved(channel, member);
    if (this.#connections.size > 0 || this.backend.sharedAcrossProcesses) this.#armLiveness();
  }
}

function signedText(socketId: string, channel: string, channelData?: string): string {
  return channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
}

/** Pusher socket ids are two integers joined by a dot. */
function newSocketId(): string {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return `${a}.${b}`;
}
