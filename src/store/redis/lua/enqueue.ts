/**
 * enqueue — adds jobs in order, with jobId and dedupKey deduplication.
 * KEYS: the common nine.  ARGV[1..3]: common (prefix, queue, now).
 * ARGV[4]: fields per job (8); then per job: id ('' = assign), name, priority, runAt,
 *   dedupKey ('' = none), ret ("rcCount,rcAge,rfCount,rfAge,deadLetter"), data JSON, chain ('' = none).
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
    if ARGV[base + 7] ~= '' then rcall('HSET', jobKey(id), 'wf', '1', 'chain', ARGV[base + 7]) end
    out[#out + 1] = { 1, id, seq, state }
    emit('enqueued', id, name, ',"runAt":' .. runAt .. ',"priority":' .. prio)
  end
end
return out
`;

/**
 * enqueue-flow — adds a flow's jobs, in any queues, parents before children: a job with children
 * waits in waiting-children; the rest are waiting or delayed.
 * KEYS: the common ten (of the first job's queue).  ARGV[1..3]: common.  ARGV[4] job count; then
 *   per job 10 fields: queue, parent index ('' = root), onFailure, batch ('1'/'0'), name, priority,
 *   runAt, ret, data JSON, chain ('' = none).
 * Returns each job's snapshot, in order.  Publishes: enqueued for each job not waiting for children.
 */
export const ENQUEUE_FLOW = `
local n, W = tonumber(ARGV[4]), 10
local ids, kids = {}, {}
for i = 1, n do
  local b = 5 + (i - 1) * W
  withQueue(ARGV[b], function() ids[i] = tostring(rcall('HINCRBY', K.meta, 'nextId', 1)) end)
  if ARGV[b + 1] ~= '' then
    local p = tonumber(ARGV[b + 1]) + 1
    kids[p] = kids[p] or {}
    kids[p][#kids[p] + 1] = { queue = ARGV[b], id = ids[i] }
  end
end
local out = {}
for i = 1, n do
  local b = 5 + (i - 1) * W
  local parent, name, prio, runAt = ARGV[b + 1], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  withQueue(ARGV[b], function()
    local id = ids[i]
    local args = { jobKey(id), 'data', ARGV[b + 8], 'name', name, 'prio', prio, 'ret', ARGV[b + 7], 'att', 0, 'wf', '1' }
    local function add(k, v) args[#args + 1] = k; args[#args + 1] = v end
    if ARGV[b + 9] ~= '' then add('chain', ARGV[b + 9]) end
    if parent ~= '' then
      local p = tonumber(parent) + 1
      add('par', cjson.encode({ queue = ARGV[5 + (p - 1) * W], id = ids[p], onFailure = ARGV[b + 2] }))
    end
    local children = kids[i]
    if children then
      add('state', 'waiting-children'); add('seq', rcall('HINCRBY', K.meta, 'seq', 1)); add('runAt', runAt)
      add('fkids', cjson.encode(children)); add('fpend', #children); add('ffail', 0); add('ftot', #children)
      add('fbatch', ARGV[b + 3]); add('ctime', NOWS)
      rcall('ZADD', K['waiting-children'], NOW, id)
      rcall('HSET', unpack(args))
    else
      local state, seq = place(id, prio, runAt)
      add('state', state); add('seq', seq); add('runAt', runAt)
      rcall('HSET', unpack(args))
      emit('enqueued', id, name, ',"runAt":' .. runAt .. ',"priority":' .. prio)
    end
    out[i] = snapshot(id)
  end)
end
return out
`;
