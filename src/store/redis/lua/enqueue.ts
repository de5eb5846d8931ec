/**
 * enqueue — adds jobs in order, with jobId and dedupKey deduplication.
 * KEYS: the common nine.  ARGV[1..3]: common (prefix, queue, now).
 * ARGV[4]: fields per job (7); then per job: id ('' = assign), name, priority, runAt,
 *   dedupKey ('' = none), ret ("rcCount,rcAge,rfCount,rfAge,deadLetter"), data JSON.
 * Returns, per job: { 1, id, seq, state } when created, { 0, snapshot } when an existing job
 *   (same jobId, or pending job with the same dedupKey) was returned instead.
 * Publishes: enqueued, per created job.
 */
export const ENQUEUE = `
local width = tonumber(ARGV[4])
local out = {}
for base = 5, #ARGV, width do
  local id, name, prio, runAt, dedupKey = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
  local existing = false
  if id ~= '' and rcall('EXISTS', jobKey(id)) == 1 then existing = id end
  if not existing and dedupKey ~= '' then existing = rcall('HGET', K.dedup, dedupKey) end
  if existing then
    out[#out + 1] = { 0, snapshot(existing) }
  else
    if id == '' then id = tostring(rcall('HINCRBY', K.meta, 'nextId', 1)) end
    local state, seq = place(id, prio, runAt)
    if dedupKey ~= '' then
      rcall('HSET', jobKey(id), 'data', ARGV[base + 6], 'name', name, 'prio', prio, 'ret', ARGV[base + 5], 'state', state,
        'seq', seq, 'runAt', runAt, 'att', 0, 'dk', dedupKey)
      rcall('HSET', K.dedup, dedupKey, id)
    else
      rcall('HSET', jobKey(id), 'data', ARGV[base + 6], 'name', name, 'prio', prio, 'ret', ARGV[base + 5], 'state', state,
        'seq', seq, 'runAt', runAt, 'att', 0)
    end
    out[#out + 1] = { 1, id, seq, state }
    emit('enqueued', id, name, ',"runAt":' .. runAt .. ',"priority":' .. prio)
  end
end
return out
`;
