// The Lua scripts of the Redis broadcast backend, one atomic step each.
import { LuaScript } from "../store/redis/scripts.ts";

/*
 * Keys, under the backend's prefix:
 *   presence:<channel>   hash, field "<nodeId>|<socketId>" → member JSON
 *   presence-channels    set of the channels that have members
 *   nodes                sorted set, nodeId → the ms its heartbeat runs out (on the heartbeat clock)
 *
 * Presence scripts answer per user, so member_added/removed go out once however many sockets
 * (on however many nodes) a user has.
 */

/** Whose clock judges heartbeats: Redis's (TIME, in ms) or the caller's `now` (ARGV[1]). */
export type HeartbeatClock = "server" | "caller";

const NOW: Readonly<Record<HeartbeatClock, string>> = Object.freeze({
  server: `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`,
  caller: `
local now = tonumber(ARGV[1])
`,
});

/*
 * JOIN    KEYS: channel hash, channel set
 *         ARGV: field, member JSON, user id, channel
 *         Returns { first (0/1: no other socket had this user), every member JSON }
 */
const JOIN = `
local first = 1
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(v).user_id == ARGV[3] then first = 0 break end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return { first, redis.call('HVALS', KEYS[1]) }
`;

/*
 * LEAVE   KEYS: channel hash, channel set
 *         ARGV: field, channel
 *         Returns {} (not a member) | { member JSON, last (0/1: the user has no socket left) }
 */
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

/*
 * BEAT    KEYS: nodes
 *         ARGV: now (caller clock only), node id, node timeout ms
 *         Returns the ms this node's heartbeat runs out
 */
const BEAT = `
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], deadline, ARGV[2])
return deadline
`;

/*
 * SWEEP   KEYS: channel set, nodes
 *         ARGV: now (caller clock only), channel hash prefix
 *         Forgets nodes whose heartbeat ran out and drops the members they held.
 *         Returns { channel, member JSON, … } for each user now gone from a channel
 */
const SWEEP = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local removed = {}
for _, ch in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = ARGV[2] .. ch
  local all = redis.call('HGETALL', h)
  local alive, dead, living = 0, {}, {}
  for i = 1, #all, 2 do
    local node = string.match(all[i], '^([^|]+)|')
    if redis.call('ZSCORE', KEYS[2], node) then
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

export interface BroadcastScripts {
  readonly join: LuaScript;
  readonly leave: LuaScript;
  readonly beat: LuaScript;
  readonly sweep: LuaScript;
}

function scripts(clock: HeartbeatClock): BroadcastScripts {
  return Object.freeze({
    join: new LuaScript("broadcast:join", JOIN, ""),
    leave: new LuaScript("broadcast:leave", LEAVE, ""),
    beat: new LuaScript(`broadcast:beat:${clock}`, BEAT, NOW[clock]),
    sweep: new LuaScript(`broadcast:sweep:${clock}`, SWEEP, NOW[clock]),
  });
}

/** The scripts on each heartbeat clock (each loaded once per process, by SHA). */
export const BROADCAST_SCRIPTS: Readonly<Record<HeartbeatClock, BroadcastScripts>> = Object.freeze({
  server: scripts("server"),
  caller: scripts("caller"),
});
