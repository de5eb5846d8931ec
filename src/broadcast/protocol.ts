// Pusher Channels protocol 7: the frames Conveyor sends and accepts, and the close codes it uses.
import * as v from "valibot";

export const PROTOCOL_VERSION = 7;

/**
 * Close codes the protocol defines. 4000–4099: do not reconnect; 4100–4199: reconnect after a
 * backoff; 4200–4299: reconnect at once.
 */
export const CLOSE = Object.freeze({
  APP_NOT_FOUND: 4001,
  PROTOCOL_UNSUPPORTED: 4007,
  PROTOCOL_MISSING: 4008,
  OVER_CAPACITY: 4100,
  RECONNECT: 4200,
  PONG_NOT_RECEIVED: 4201,
  INACTIVE: 4202,
});

/** `pusher:error` codes for problems that do not end the connection. */
export const ERROR = Object.freeze({
  /** A frame that is not JSON, not an object, or misses what its event needs. */
  INVALID_FRAME: 4200,
  /** A frame over the size limit. */
  TOO_LARGE: 4009,
  /** A client event refused: wrong channel kind, not subscribed, or over the rate. */
  CLIENT_EVENT_REJECTED: 4301,
});

/** Channel names as Pusher allows them. */
export const ChannelNameSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(164),
  v.regex(/^[A-Za-z0-9_\-=@,.;]+$/, "letters, digits and _ - = @ , . ; only"),
);

const Subscribe = v.object({
  event: v.literal("pusher:subscribe"),
  data: v.object({
    channel: ChannelNameSchema,
    auth: v.optional(v.string()),
    channel_data: v.optional(v.string()),
  }),
});
const Unsubscribe = v.object({ event: v.literal("pusher:unsubscribe"), data: v.object({ channel: ChannelNameSchema }) });
const Ping = v.object({ event: v.literal("pusher:ping"), data: v.optional(v.unknown()) });
const Pong = v.object({ event: v.literal("pusher:pong"), data: v.optional(v.unknown()) });
const ClientEvent = v.object({
  event: v.pipe(v.string(), v.startsWith("client-"), v.maxLength(200)),
  channel: ChannelNameSchema,
  data: v.optional(v.unknown()),
});

/** Every frame a client may send. */
export const ClientFrameSchema = v.union([Subscribe, Unsubscribe, Ping, Pong, ClientEvent]);
export type ClientFrame = v.InferOutput<typeof ClientFrameSchema>;

/** What a presence subscription's signed channel_data holds. */
export const ChannelDataSchema = v.object({
  user_id: v.union([v.pipe(v.string(), v.minLength(1), v.maxLength(128)), v.pipe(v.number(), v.integer())]),
  user_info: v.optional(v.unknown()),
});

export type ChannelKind = "public" | "private" | "presence";

export function channelKind(channel: string): ChannelKind {
  if (channel.startsWith("presence-")) return "presence";
  if (channel.startsWith("private-")) return "private";
  return "public";
}

/** A frame to a client. `data` goes out as a JSON string, as the protocol has it, except for pusher:error. */
export function frame(event: string, data: unknown, channel?: string, extra?: Record<string, unknown>): string {
  const body: Record<string, unknown> = { event };
  if (channel !== undefined) body.channel = channel;
  body.data = typeof data === "string" || event === "pusher:error" || event === "pusher:subscription_error" ? data : JSON.stringify(data);
  if (extra) Object.assign(body, extra);
  return JSON.stringify(body);
}

export function errorFrame(code: number | null, message: string): string {
  return frame("pusher:error", { code, message });
}
