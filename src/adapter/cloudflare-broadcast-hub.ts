// Pusher channels over sockets that the Workers runtime holds while a Durable Object sleeps. Each
// socket's id and channels live in its attachment, and a waking instance rebuilds its channel
// index from them. Socket tags cannot serve as that index: they are fixed when a socket is
// accepted, and Pusher clients subscribe after connecting.
import { type BroadcastMessage, type PresenceMember, uniqueMembers } from "../broadcast/backend.ts";
import type { Broadcaster } from "../broadcast/broadcaster.ts";
import { exceedsBytes } from "../broadcast/byte-size.ts";
import { Connection, type ConnectionHub } from "../broadcast/connection.ts";
import { frame } from "../broadcast/protocol.ts";
import { type Clock, systemClock } from "../core/clock.ts";

/** A WebSocket accepted with `ctx.acceptWebSocket`: the part of Workers' type used here. */
export interface HibernatableWebSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

/** One socket's attachment: its Pusher socket id and channel → presence member (null on other kinds). */
interface Attachment {
  readonly id: string;
  readonly ch: Record<string, PresenceMember | null>;
}

/** Workers refuse an attachment over 2,048 bytes once serialised (miniflare does not). */
export const MAX_ATTACHMENT_BYTES = 2_048;

export class HibernatingHub implements ConnectionHub {
  readonly clock: Clock = systemClock;
  readonly maxMessageBytes: number;
  readonly #signer: Pick<Broadcaster, "verifySubscription">;
  readonly #sockets: () => readonly HibernatableWebSocket[];
  readonly #connections = new Map<HibernatableWebSocket, Connection>();
  readonly #socketOf = new Map<Connection, HibernatableWebSocket>();
  /** Channel → its subscribers; null until first needed after (re)construction. */
  #channels: Map<string, Set<Connection>> | null = null;

  /** `sockets` lists every socket the object holds (`ctx.getWebSockets()`). */
  constructor(signer: Pick<Broadcaster, "verifySubscription" | "maxMessageBytes">, sockets: () => readonly HibernatableWebSocket[]) {
    this.#signer = signer;
    this.maxMessageBytes = signer.maxMessageBytes;
    this.#sockets = sockets;
  }

  /** A socket just accepted: its id goes into the attachment at once, so a woken instance knows it. */
  open(ws: HibernatableWebSocket, socketId: string): Connection {
    ws.serializeAttachment({ id: socketId, ch: {} } satisfies Attachment);
    return this.connection(ws)!;
  }

  /** The connection of a socket, revived from its attachment when this instance has not seen it. */
  connection(ws: HibernatableWebSocket): Connection | null {
    const known = this.#connections.get(ws);
    if (known) return known;
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (!attachment || typeof attachment.id !== "string") return null;
    const connection = new Connection(this, { send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) }, attachment.id, this.clock.now());
    for (const [channel, member] of Object.entries(attachment.ch ?? {})) connection.channels.set(channel, member);
    this.#connections.set(ws, connection);
    this.#socketOf.set(connection, ws);
    if (this.#channels) for (const channel of connection.channels.keys()) add(this.#channels, channel, connection);
    return connection;
  }

  /** The socket closed: it leaves every channel, presence members announced gone. */
  async close(ws: HibernatableWebSocket): Promise<void> {
    this.#index();
    const connection = this.connection(ws);
    if (!connection || connection.closed) return;
    connection.closed = true;
    for (const channel of [...connection.channels.keys()]) await this.unsubscribe(connection, channel);
    this.#connections.delete(ws);
    this.#socketOf.delete(connection);
  }

  async subscribe(connection: Connection, channel: string, member: PresenceMember | null): Promise<void> {
    const ch = { ...Object.fromEntries(connection.channels), [channel]: member };
    if (exceedsBytes(JSON.stringify({ id: connection.socketId, ch }), MAX_ATTACHMENT_BYTES)) {
      const error = `A connection's channels must fit a Durable Object socket attachment of ${MAX_ATTACHMENT_BYTES} bytes: unsubscribe from others first`;
      return connection.send(frame("pusher:subscription_error", { type: "LimitReached", error, status: 413 }, channel));
    }
    const index = this.#index();
    const others = member ? this.#membersOf(channel, index.get(channel)) : [];
    const first = member !== null && !others.some((m) => m.user_id === member.user_id);
    connection.channels.set(channel, member);
    add(index, channel, connection);
    this.#save(connection);
    const members = member ? uniqueMembers([...others, member]) : [];
    const data = member
      ? { presence: { count: members.length, ids: members.map((m) => m.user_id), hash: Object.fromEntries(members.map((m) => [m.user_id, m.user_info])) } }
      : {};
    connection.send(frame("pusher_internal:subscription_succeeded", data, channel));
    if (member && first) this.deliver({ channel, event: "pusher_internal:member_added", data: JSON.stringify(member), exceptSocketId: connection.socketId });
  }

  async unsubscribe(connection: Connection, channel: string): Promise<void> {
    if (!connection.channels.has(channel)) return;
    const member = connection.channels.get(channel) ?? null;
    connection.channels.delete(channel);
    if (!connection.closed) this.#save(connection);
    const index = this.#index();
    const set = index.get(channel);
    set?.delete(connection);
    if (set?.size === 0) index.delete(channel);
    if (member && !this.#membersOf(channel, set).some((m) => m.user_id === member.user_id)) {
      this.deliver({ channel, event: "pusher_internal:member_removed", data: JSON.stringify({ user_id: member.user_id }) });
    }
  }

  verifySubscription(socketId: string, channel: string, auth: string, channelData?: string): Promise<boolean> {
    return this.#signer.verifySubscription(socketId, channel, auth, channelData);
  }

  /** Client events: this object holds every subscriber, so delivery is the whole fan-out. */
  async publishRaw(message: BroadcastMessage): Promise<void> {
    this.deliver(message);
  }

  /** One frame to every subscriber of the channel but the sender. */
  deliver(message: BroadcastMessage): void {
    const set = this.#index().get(message.channel);
    if (!set) return;
    const text = frame(message.event, message.data, message.channel, message.userId ? { user_id: message.userId } : undefined);
    for (const connection of set) if (connection.socketId !== message.exceptSocketId) connection.send(text);
  }

  /** Channels with subscribers, with their subscriber counts. */
  channels(): Map<string, number> {
    return new Map([...this.#index()].map(([name, set]) => [name, set.size]));
  }

  members(channel: string): PresenceMember[] {
    return this.#membersOf(channel, this.#index().get(channel));
  }

  #membersOf(channel: string, set: Set<Connection> | undefined): PresenceMember[] {
    const members: PresenceMember[] = [];
    for (const connection of set ?? []) {
      const member = connection.channels.get(channel);
      if (member) members.push(member);
    }
    return uniqueMembers(members);
  }

  #save(connection: Connection): void {
    this.#socketOf.get(connection)?.serializeAttachment({ id: connection.socketId, ch: Object.fromEntries(connection.channels) } satisfies Attachment);
  }

  #index(): Map<string, Set<Connection>> {
    if (this.#channels) return this.#channels;
    for (const ws of this.#sockets()) this.connection(ws);
    const index = new Map<string, Set<Connection>>();
    for (const connection of this.#connections.values()) {
      if (!connection.closed) for (const channel of connection.channels.keys()) add(index, channel, connection);
    }
    return this.#channels = index;
  }
}

function add(index: Map<string, Set<Connection>>, channel: string, connection: Connection): void {
  let set = index.get(channel);
  if (!set) index.set(channel, set = new Set());
  set.add(connection);
}
