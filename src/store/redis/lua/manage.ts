/**
 * cancel — cancels a waiting, delayed or active job.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] who ('' for nobody named).
 * Returns { 'cancelled', previous state } | { 'finished', state } | { 'not-found' }.
 * Publishes: cancelled, and what that sets off in a workflow (its children cancelled, its parent settled).
 */
export const CANCEL = `
local id = ARGV[4]
local state = rcall('HGET', jobKey(id), 'state')
if not state then return { 'not-found' } end
if not PENDING[state] then return { 'finished', state } end
cancelJob(id, ARGV[5])
return { 'cancelled', state }
`;

/**
 * retry — sends a failed, dead or cancelled job back to waiting with fresh attempts.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id, ARGV[5] who ('' for nobody named).
 * Returns { 'retried', snapshot }, { 'not-found' }, { 'not-retryable', state } or { 'dedup-taken' }
 * (another pending job holds its dedupKey).  Publishes: enqueued.
 */
export const RETRY = `
local id = ARGV[4]
local h = rcall('HMGET', jobKey(id), 'state', 'name', 'prio', 'dk')
local state = h[1]
if not state then return { 'not-found' } end
if state ~= 'failed' and state ~= 'dead' and state ~= 'cancelled' then return { 'not-retryable', state } end
if h[4] and h[4] ~= '' then
  if rcall('HEXISTS', K.dedup, h[4]) == 1 then return { 'dedup-taken' } end
  rcall('HSET', K.dedup, h[4], id)
end
rcall('ZREM', K[state], id)
rcall('HDEL', jobKey(id), 'dead', 'end')
changedBy(id, 'retry', ARGV[5])
schedule(id, h[3], NOWS, { 'att', 0, 'stalls', 0 })
emit('enqueued', id, h[2], ',"runAt":' .. NOWS .. ',"priority":' .. h[3])
return { 'retried', snapshot(id) }
`;

/**
 * remove — deletes a job that is not active.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id.
 * Returns 'removed', 'not-found' or 'active'.  Publishes: removed; a pending workflow job's parent
 * hears it was cancelled, and its children are cancelled.
 */
export const REMOVE = `
local id = ARGV[4]
local h = rcall('HMGET', jobKey(id), 'state', 'name', 'par', 'fkids', 'fpend', 'err', 'wf')
if not h[1] then return 'not-found' end
if h[1] == 'active' then return 'active' end
rcall('ZREM', K[h[1]], id)
deleteJob(id)
emit('removed', id, h[2])
if h[7] then afterRemove(id, h) end
return 'removed'
`;

/**
 * clean — deletes jobs of one finished state that finished at or before a cutoff, oldest first.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] state, ARGV[5] cutoff, ARGV[6] limit.
 * Returns how many were deleted.
 */
export const CLEAN = `
local setKey = K[ARGV[4]]
local ids = rcall('ZRANGEBYSCORE', setKey, '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[6]))
for _, id in ipairs(ids) do
  rcall('ZREM', setKey, id)
  deleteJob(id)
end
return #ids
`;

/**
 * set-paused — pauses or resumes claiming for every worker.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] '1' to pause, '0' to resume.
 * Returns 1 when the state changed, else 0.  Publishes: paused | resumed.
 */
export const SET_PAUSED = `
local was = rcall('HGET', K.meta, 'paused') == '1'
local want = ARGV[4] == '1'
if was == want then return 0 end
rcall('HSET', K.meta, 'paused', ARGV[4])
rcall(PUBLISH, P .. 'events:' .. (want and 'paused' or 'resumed'), '{"type":"' .. (want and 'paused' or 'resumed') ..
  '","queue":' .. str(QUEUE) .. ',"at":' .. NOWS .. '}')
return 1
`;
