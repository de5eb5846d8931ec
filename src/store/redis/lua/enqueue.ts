/**
 * enqueue — adds jobs in order, with jobId and dedupKey deduplication.
 * KEYS: the common nine.  ARGV[1..3]: common (prefix, queue, now).
 * ARGV[4]: fields per job (15); then per job: id ('' = assign), name, payload JSON, priority,
 *   createdAt, runAt, maxAttempts, backoff JSON, timeoutMs, dedupKey, rcCount, rcAge, rfCount,
 *   rfAge, deadLetter ('1'/'0'); '' stands for null.
 * Returns, per job: { 1, id, seq, state } when created, { 0, snapshot } when an existing job
 *   (same jobId, or pending job with the same dedupKey) was returned instead.
 * Publishes: enqueued, per created job.
 */
export const ENQUEUE = `
local width = tonumber(ARGV[4])
local out = {}
for base = 5, #ARGV, width do
  local id, dedupKey = ARGV[base], ARGV[base + 9]
  local existing = false
  if id ~= '' and rcall('EXISTS', jobKey(id)) == 1 then existing = id end
  if not existing and dedupKey ~= '' then existing = rcall('HGET', K.dedup, dedupKey) end
  if existing then
    out[#out + 1] = { 0, snapshot(existing) }
  else
    if id == '' then id = tostring(rcall('HINCRBY', K.meta, 'nextId', 1)) end
    local state, seq = place(id, ARGV[base + 3], ARGV[base + 5])
    rcall('HSET', jobKey(id), 'id', id, 'name', ARGV[base + 1], 'payload', ARGV[base + 2], 'priority', ARGV[base + 3],
      'createdAt', ARGV[base + 4], 'runAt', ARGV[base + 5], 'state', state, 'seq', seq, 'attemptsMade', 0,
      'maxAttempts', ARGV[base + 6], 'backoff', ARGV[base + 7], 'timeoutMs', ARGV[base + 8], 'dedupKey', dedupKey,
      'rcCount', ARGV[base + 10], 'rcAge', ARGV[base + 11], 'rfCount', ARGV[base + 12], 'rfAge', ARGV[base + 13],
      'deadLetter', ARGV[base + 14], 'stalls', 0, 'logCount', 0)
    if dedupKey ~= '' then rcall('HSET', K.dedup, dedupKey, id) end
    out[#out + 1] = { 1, id, seq, state }
    emit('enqueued', id, ARGV[base + 1], ',"runAt":' .. ARGV[base + 5] .. ',"priority":' .. ARGV[base + 3])
  end
end
return out
`;
