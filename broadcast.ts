/**
 * Real-time broadcasting that speaks the Pusher protocol: the `Broadcaster`, its in-memory and
 * Redis backends, and job events on channels. Serve it with `createBroadcastApp` from `/http`.
 * @module
 */
export {
  Broadcaster,
  type BroadcasterOptions,
  type ChannelAuthorizer,
  type ChannelUser,
  type PublishOptions,
} from "./src/broadcast/broadcaster.ts";
export {
  type BroadcastBackend,
  type BroadcastMessage,
  type JoinResult,
  type LeaveResult,
  MemoryBroadcastBackend,
  type PresenceMember,
} from "./src/broadcast/backend.ts";
export { type HeartbeatClock, RedisBroadcastBackend, type RedisBroadcastOptions } from "./src/broadcast/redis.ts";
export { broadcastCheck } from "./src/broadcast/health.ts";
export { broadcastJobEvents, jobChannel, type JobBroadcastOptions, queueChannel } from "./src/broadcast/job-events.ts";
export type { SocketLike } from "./src/broadcast/connection.ts";
export { CLOSE as PUSHER_CLOSE_CODES, ERROR as PUSHER_ERROR_CODES } from "./src/broadcast/protocol.ts";
