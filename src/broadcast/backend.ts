// Where broadcasts travel and presence lives: one process (memory) or every node (Redis).
import type { HealthProbe } from "../core/health-types.ts";

/** One event for one channel, as every node receives it. `data` is the frame's data, already a string. */
export interface BroadcastMessage {
  readonly channel: string;
  readonly event: string;
  readonly data: string;
  /** The sender's socket, which does not get its own message. */
  readonly exceptSocketId?: string | null;
  /** On presence channels, the member a client event came from. */
  readonly userId?: string | null;
}

export interface PresenceMember {
  readonly user_id: string;
  readonly user_info: unknown;
}

export interface JoinResult {
  /** No other socket (on any node) had this user on the channel. */
  readonly firstForUser: boolean;
  /** Every member now on the channel, one entry per user. */
  readonly members: readonly PresenceMember[];
}

export interface LeaveResult {
  readonly member: PresenceMember | null;
  /** The user has no socket left on the channel. */
  readonly lastForUser: boolean;
}

/**
 * The contract a broadcast backend keeps. `publish` reaches the `deliver` callback of every
 * node, this one included; presence is counted per socket and reported per user.
 */
export interface BroadcastBackend {
  readonly nodeId: string;
  readonly sharedAcrossProcesses: boolean;
  start(deliver: (message: BroadcastMessage) => void): Promise<void>;
  publish(message: BroadcastMessage): Promise<void>;
  join(channel: string, socketId: string, member: PresenceMember): Promise<JoinResult>;
  leave(channel: string, socketId: string): Promise<LeaveResult>;
  members(channel: string): Promise<readonly PresenceMember[]>;
  /** Removes members held by nodes that stopped (no-op in one process); returns the users that left. */
  sweep(): Promise<readonly { channel: string; member: PresenceMember }[]>;
  /** Optional: whether the backend reaches what it needs (Redis: the connection and a PING); see `broadcastCheck`. */
  health?(): Promise<HealthProbe>;
  close(): Promise<void>;
}

/** Unique users, first socket's info winning, in join order. */
export function uniqueMembers(entries: Iterable<PresenceMember>): PresenceMember[] {
  const seen = new Map<string, PresenceMember>();
  for (const member of entries) if (!seen.has(member.user_id)) seen.set(member.user_id, member);
  return [...seen.values()];
}

/** One process: delivery is a function call, presence a map. */
export class MemoryBroadcastBackend implements BroadcastBackend {
  #nodeId: string | undefined;
  /** Made on first use: Workers forbid random values at module scope, where apps build backends. */
  get nodeId(): string {
    return this.#nodeId ??= crypto.randomUUID();
  }
  readonly sharedAcrossProcesses = false;
  #deliver: ((message: BroadcastMessage) => void) | undefined;
  readonly #presence = new Map<string, Map<string, PresenceMember>>();

  async start(deliver: (message: BroadcastMessage) => void): Promise<void> {
    this.#deliver = deliver;
  }

  async publish(message: BroadcastMessage): Promise<void> {
    this.#deliver?.(message);
  }

  async join(channel: string, socketId: string, member: PresenceMember): Promise<JoinResult> {
    let sockets = this.#presence.get(channel);
    if (!sockets) this.#presence.set(channel, sockets = new Map());
    const firstForUser = ![...sockets.values()].some((m) => m.user_id === member.user_id);
    sockets.set(socketId, member);
    return { firstForUser, members: uniqueMembers(sockets.values()) };
  }

  async leave(channel: string, socketId: string): Promise<LeaveResult> {
    const sockets = this.#presence.get(channel);
    const member = sockets?.get(socketId) ?? null;
    if (!sockets || !member) return { member: null, lastForUser: false };
    sockets.delete(socketId);
    if (sockets.size === 0) this.#presence.delete(channel);
    return { member, lastForUser: ![...sockets.values()].some((m) => m.user_id === member.user_id) };
  }

  async members(channel: string): Promise<readonly PresenceMember[]> {
    return uniqueMembers(this.#presence.get(channel)?.values() ?? []);
  }

  async sweep(): Promise<readonly { channel: string; member: PresenceMember }[]> {
    return [];
  }

  async close(): Promise<void> {
    this.#deliver = undefined;
  }
}
