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
 * Returns id, seq, state of each job, in order, as one flat list.  Publishes: enqueued for each job not waiting for children.
 *
 * Ids and claim order are taken in node order, one HINCRBY per counter and queue; each queue's
 * sets get one ZADD per 500 jobs; and a job's snapshot is the hash just written (its key is new),
 * so nothing is read back.
 */
export const ENQUEUE_FLOW = `
local n, W = tonumber(ARGV[4]), 10
local groups, order = {}, {}
for i = 1, n do
  local q = ARGV[5 + (i - 1) * W]
  local g = groups[q]
  if not g then
    g = {}
    groups[q] = g
    order[#order + 1] = q
  end
  g[#g + 1] = i
end
local ids, seqs, qjson = {}, {}, {}
for _, q in ipairs(order) do
  local g = groups[q]
  withQueue(q, function()
    local lastId = rcall('HINCRBY', K.meta, 'nextId', #g) - #g
    local lastSeq = rcall('HINCRBY', K.meta, 'seq', #g) - #g
    for k, i in ipairs(g) do
      ids[i] = string.format('%d', lastId + k)
      seqs[i] = lastSeq + k
    end
  end)
  qjson[q] = str(q)
end
local kids, policies = {}, {}
for i = 1, n do
  local b = 5 + (i - 1) * W
  if ARGV[b + 1] ~= '' then
    local p = tonumber(ARGV[b + 1]) + 1
    kids[p] = kids[p] or {}
    kids[p][#kids[p] + 1] = '{"queue":' .. qjson[ARGV[b]] .. ',"id":"' .. ids[i] .. '"}'
  end
end
local function zaddAll(key, members)
  for from = 1, #members, 1000 do rcall('ZADD', key, unpack(members, from, math.min(from + 999, #members))) end
end
local out = {}
for _, q in ipairs(order) do
  withQueue(q, function()
    local waiting, delayed, parents = {}, {}, {}
    for _, i in ipairs(groups[q]) do
      local b = 5 + (i - 1) * W
      local id, name, prio, runAt, seq = ids[i], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], seqs[i]
      local flat = { 'data', ARGV[b + 8], 'name', name, 'prio', prio, 'ret', ARGV[b + 7], 'att', '0', 'wf', '1',
        'seq', string.format('%d', seq), 'runAt', runAt }
      if ARGV[b + 9] ~= '' then
        flat[#flat + 1] = 'chain'
        flat[#flat + 1] = ARGV[b + 9]
      end
      if ARGV[b + 1] ~= '' then
        local p = tonumber(ARGV[b + 1]) + 1
        local policy = ARGV[b + 2]
        policies[policy] = policies[policy] or str(policy)
        flat[#flat + 1] = 'par'
        flat[#flat + 1] = '{"queue":' .. qjson[ARGV[5 + (p - 1) * W]] .. ',"id":"' .. ids[p] .. '","onFailure":' .. policies[policy] .. '}'
      end
      local children = kids[i]
      local state
      if children then
        state = 'waiting-children'
        local count = tostring(#children)
        for _, v in ipairs({ 'fkids', '[' .. table.concat(children, ',') .. ']', 'fpend', count, 'ffail', '0', 'ftot', count,
          'fbatch', ARGV[b + 3], 'ctime', NOWS }) do flat[#flat + 1] = v end
        parents[#parents + 1] = NOWS
        parents[#parents + 1] = id
      elseif tonumber(runAt) > NOW then
        state = 'delayed'
        delayed[#delayed + 1] = runAt
        delayed[#delayed + 1] = id
      else
        state = 'waiting'
        waiting[#waiting + 1] = tonumber(prio) * 4294967296 + (seq % 4294967296)
        waiting[#waiting + 1] = id
      end
      flat[#flat + 1] = 'state'
      flat[#flat + 1] = state
      rcall('HSET', jobKey(id), unpack(flat))
      out[3 * i - 2], out[3 * i - 1], out[3 * i] = id, seq, state
      if not children then emit('enqueued', id, name, ',"runAt":' .. runAt .. ',"priority":' .. prio) end
    end
    zaddAll(K['waiting-children'], parents)
    zaddAll(K.waiting, waiting)
    zaddAll(K.delayed, delayed)
  end)
end
return out
`;
