/**
 * extend-leases — renews the leases still held by their tokens, leaseMs from now in the lease clock.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] leaseMs; then pairs of id, token.
 * Returns the ids whose lease was no longer held by the given token.
 */
export const EXTEND_LEASES = `
local expires = string.format('%d', leaseNow() + tonumber(ARGV[4]))
local lost = {}
for i = 5, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local h = rcall('HMGET', jobKey(id), 'state', 'lease')
  if holds(h[1], h[2], token) then
    local _, _, worker = lease(h[2])
    rcall('HSET', jobKey(id), 'lease', token .. ' ' .. expires .. ' ' .. worker)
    rcall('ZADD', K.active, expires, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
`;

/**
 * release — gives an active job back to waiting (or delayed until runAt) without spending an attempt.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] token, ARGV[6] runAt.
 * Returns 1 when released, 0 when the token no longer held the job.
 * Publishes: enqueued.
 */
export const RELEASE = `
local id = ARGV[4]
if not held(id, ARGV[5]) then return 0 end
rcall('ZREM', K.active, id)
local h = rcall('HMGET', jobKey(id), 'prio', 'name')
schedule(id, h[1], ARGV[6])
emit('enqueued', id, h[2], ',"runAt":' .. ARGV[6] .. ',"priority":' .. h[1])
return 1
`;

/**
 * progress — stores a running job's progress.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] token, ARGV[6] progress JSON.
 * Returns 1, or 0 when the token no longer held the job.  Publishes: progress.
 */
export const PROGRESS = `
local id = ARGV[4]
if not held(id, ARGV[5]) then return 0 end
rcall('HSET', jobKey(id), 'prog', ARGV[6])
emit('progress', id, rcall('HGET', jobKey(id), 'name'), ',"progress":' .. ARGV[6])
return 1
`;

/**
 * step — records a durable step's result on a running job (a hash beside the job, step → JSON;
 * the job's `nstep` field says there is one, so snapshots read it only then).
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] token, ARGV[6] step, ARGV[7] JSON.
 * Returns 1, or 0 when the token no longer held the job.
 */
export const STEP = `
local id = ARGV[4]
if not held(id, ARGV[5]) then return 0 end
rcall('HSET', stepsKey(id), ARGV[6], ARGV[7])
rcall('HSET', jobKey(id), 'nstep', '1')
return 1
`;

/**
 * log — appends a line to a running job's log.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] token, ARGV[6] line.
 * Returns 1, or 0 when the token no longer held the job.
 */
export const LOG = `
local id = ARGV[4]
if not held(id, ARGV[5]) then return 0 end
rcall('RPUSH', logsKey(id), ARGV[6])
rcall('HINCRBY', jobKey(id), 'nlog', 1)
return 1
`;
