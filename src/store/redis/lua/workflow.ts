/**
 * Lua for workflows, appended to the common prelude: the mirror of core/workflow-rules.ts.
 * A job of a workflow has `wf` = '1' in its hash, and some of:
 *   chain   the rest of its chain (flow-codec.ts: job data inside as JSON text)
 *   prev    JSON of what the chain step before left it
 *   par     JSON { queue, id, onFailure } of its parent
 *   fkids   JSON [{ queue, id }] of its children; with fpend (still to end), ffail (ended failed),
 *           ftot (children), fbatch ('1' for a batch), ctime (when the flow was added), and the
 *           LIST <prefix>outcomes:<id> of each finished child's outcome JSON, in order.
 * Other queues' keys are reached by switching the prelude's queue (withQueue): a workflow spans
 * queues, so on Redis Cluster its queues must share a hash slot (the store's slotTag).
 */
export const WORKFLOW = `
-- A queue's key prefix is ROOT:{queue}: (its own hash slot), or ROOT:{tag}:queue: when the store
-- shares one hash tag among all its queues (slotTag), so a workflow spanning them runs on a Cluster.
local ROOT = SLOT_TAG == '' and string.sub(P, 1, #P - #QUEUE - 4) or string.sub(P, 1, #P - #QUEUE - #SLOT_TAG - 5)
local function queuePrefix(name)
  if SLOT_TAG == '' then return ROOT .. ':{' .. name .. '}:' end
  return ROOT .. ':{' .. SLOT_TAG .. '}:' .. name .. ':'
end
local KEY_NAMES = { 'waiting', 'delayed', 'active', 'completed', 'failed', 'dead', 'cancelled', 'dedup', 'meta', 'waiting-children' }

-- Runs fn with the prelude pointed at another queue: P, QUEUE, K and the listener cache.
local function withQueue(name, fn)
  if name == QUEUE then return fn() end
  local saved = { P, QUEUE, K, listening }
  P = queuePrefix(name)
  QUEUE = name
  K = {}
  for _, key in ipairs(KEY_NAMES) do K[key] = P .. key end
  listening = {}
  fn()
  P, QUEUE, K, listening = saved[1], saved[2], saved[3], saved[4]
end

local function present(value) return value ~= nil and value ~= cjson.null end

-- How a job ended, as its parent or the next chain step reads it; res nil when undefined.
local function outcomeJson(id, name, state, res, err)
  local head = '{"queue":' .. str(QUEUE) .. ',"id":' .. str(id) .. ',"name":' .. str(name) .. ',"state":"' .. state .. '"'
  if state == 'completed' then return head .. (res and (',"result":' .. res) or '') .. '}' end
  return head .. ',"error":' .. err .. '}'
end

-- Enqueues a chain step (a decoded stored step) in its queue, handing it prev and the rest of the chain.
local function enqueueStep(s, inherited, rest, prev)
  withQueue(s.q, function()
    local id = tostring(rcall('HINCRBY', K.meta, 'nextId', 1))
    local runAt = string.format('%d', NOW + s.delay)
    local state, seq = place(id, s.prio, runAt)
    local args = { jobKey(id), 'data', '{"payload":' .. (s.inherit and inherited or s.payload) .. ',"createdAt":' .. NOWS .. ',' .. s.rest,
      'name', s.name, 'prio', s.prio, 'ret', s.ret, 'state', state, 'seq', seq, 'runAt', runAt, 'att', 0, 'wf', '1', 'prev', prev }
    if rest then
      args[#args + 1] = 'chain'
      args[#args + 1] = rest
    end
    rcall('HSET', unpack(args))
    emit('enqueued', id, s.name, ',"runAt":' .. runAt .. ',"priority":' .. s.prio)
  end)
end

-- The first then-step of a chain as JavaScript wrote it (flow-codec.ts): '{"then":[' steps
-- '],"catch":' …, each step an object whose first key is "q" and whose job data are JSON
-- strings. A quote right after a brace or a comma is never inside a string (there it would be
-- escaped), so '},{"q":' and '],"catch":' mark the steps' bounds exactly: slicing the text
-- spares decoding and re-encoding the whole chain at every step. Returns the step's text and the
-- rest of the chain's (nil when nothing is left), or nil for a chain in any other shape (which
-- then takes the slow path: decoded whole).
local THEN_HEAD = '{"then":[{"q":'
local NOTHING_AFTER = ',"catch":null,"finally":null}'
local function firstThen(text)
  if string.sub(text, 1, #THEN_HEAD) ~= THEN_HEAD then return nil end
  local close = string.find(text, '],"catch":', #THEN_HEAD, true)
  if not close then return nil end
  local tail = string.sub(text, close + 1)
  local gap = string.find(text, '},{"q":', #THEN_HEAD, true)
  if gap and gap < close then
    return string.sub(text, 10, gap), '{"then":[' .. string.sub(text, gap + 2, close - 1) .. ']' .. tail
  end
  return string.sub(text, 10, close - 1), tail ~= NOTHING_AFTER and ('{"then":[]' .. tail) or nil
end

-- then after success, catch after a final failure, finally last; a cancelled job ends its chain.
local function nextStep(id, state, name, res, err, chainText)
  local prev = outcomeJson(id, name, state, res, err)
  if state == 'completed' then
    local first, restJson = firstThen(chainText)
    local ok, step = pcall(cjson.decode, first or '')
    if ok and type(step) == 'table' and step.q then return enqueueStep(step, res or 'null', restJson, prev) end
  end
  local chain = cjson.decode(chainText)
  local thens = chain['then'] or {}
  if state == 'completed' then
    if #thens > 0 then
      local rest = {}
      for i = 2, #thens do rest[#rest + 1] = thens[i] end
      local restJson = nil
      if #rest > 0 or present(chain['catch']) or present(chain['finally']) then
        restJson = cjson.encode({ ['then'] = rest, ['catch'] = chain['catch'] or cjson.null, ['finally'] = chain['finally'] or cjson.null })
      end
      enqueueStep(thens[1], res or 'null', restJson, prev)
    elseif present(chain['finally']) then
      enqueueStep(chain['finally'], '{"state":"completed"' .. (res and (',"result":' .. res) or '') .. '}', nil, prev)
    end
  elseif state == 'failed' or state == 'dead' then
    if present(chain['catch']) then
      local restJson = nil
      if present(chain['finally']) then restJson = cjson.encode({ ['then'] = {}, ['catch'] = cjson.null, ['finally'] = chain['finally'] }) end
      enqueueStep(chain['catch'], err, restJson, prev)
    elseif present(chain['finally']) then
      enqueueStep(chain['finally'], '{"state":"' .. state .. '","error":' .. err .. '}', nil, prev)
    end
  end
end

-- Cancels a pending job (the current queue's), with what that sets off; false when it had finished.
local function cancelJob(id, by)
  local h = rcall('HMGET', jobKey(id), 'state', 'name', 'ret', 'dk', 'wf')
  if not h[1] or not PENDING[h[1]] then return false end
  finish(id, h[1], 'cancelled', h[4])
  changedBy(id, 'cancel', by)
  emit('cancelled', id, h[2], ',"previous":"' .. h[1] .. '"')
  if h[5] then afterFinish(id) end
  local _, _, rfCount, rfAge = rules(h[3])
  retain(K.cancelled, rfCount, rfAge)
  return h[1]
end

local function cancelChildren(fkids)
  for _, ref in ipairs(cjson.decode(fkids)) do withQueue(ref.queue, function() cancelJob(ref.id, '') end) end
end

-- A parent hears that a child ended (settleChild in workflow-rules.ts).
local function settle(link, childQueue, childId, childState, outcome)
  withQueue(link.queue, function()
    local pid = link.id
    local key = jobKey(pid)
    local h = rcall('HMGET', key, 'state', 'fpend', 'ffail', 'fbatch', 'ftot', 'name', 'prio', 'att', 'ctime', 'ret', 'dk')
    if h[1] ~= 'waiting-children' or not h[2] or tonumber(h[2]) <= 0 then return end
    local failed = childState ~= 'completed'
    local pending = tonumber(h[2]) - 1
    local nfail = tonumber(h[3]) + (failed and 1 or 0)
    if failed then rcall('HSET', key, 'fpend', pending, 'ffail', nfail) else rcall('HSET', key, 'fpend', pending) end
    if not (failed and link.onFailure == 'ignore') then rcall('RPUSH', outcomesKey(pid), outcome) end
    local batch = h[4] == '1'
    local progress = batch and 'batch.progress' or 'flow.progress'
    -- Built only for a listener: a flow's every child passes here.
    if watched(progress) then
      emit(progress, pid, h[6], ',"total":' .. h[5] .. ',"pending":' .. pending .. ',"failed":' .. nfail ..
        ',"child":{"queue":' .. str(childQueue) .. ',"id":' .. str(childId) .. ',"state":"' .. childState .. '"}')
    end
    if failed and link.onFailure == 'fail' then
      local err = '{"name":"ConveyorError","code":"CHILD_FAILED","message":' ..
        str('child ' .. childId .. ' on queue "' .. childQueue .. '" ended ' .. childState) .. '}'
      emit('failed', pid, h[6], ',"attempt":' .. h[8] .. ',"error":' .. err .. ',"final":true')
      finalFailure(pid, 'waiting-children', 'child-failed', tonumber(h[8]), err)
    elseif pending > 0 then
      return
    elseif not batch then
      rcall('ZREM', K['waiting-children'], pid)
      schedule(pid, h[7], NOWS)
      emit('enqueued', pid, h[6], ',"runAt":' .. NOWS .. ',"priority":' .. h[7])
    elseif nfail == 0 then
      local result = '{"total":' .. h[5] .. ',"completed":' .. h[5] .. ',"failed":0}'
      finish(pid, 'waiting-children', 'completed', h[11], { 'att', 1, 'res', result })
      emit('completed', pid, h[6], ',"attempt":1,"result":' .. result .. ',"durationMs":' .. (NOW - tonumber(h[9])))
      afterFinish(pid)
      local rcCount, rcAge = rules(h[10])
      retain(K.completed, rcCount, rcAge)
    else
      local err = '{"name":"ConveyorError","code":"BATCH_FAILED","message":"' .. nfail .. ' of ' .. h[5] .. ' jobs of the batch failed"}'
      emit('failed', pid, h[6], ',"attempt":1,"error":' .. err .. ',"final":true')
      finalFailure(pid, 'waiting-children', 'child-failed', 1, err)
    end
  end)
end

afterFinish = function(id)
  local h = rcall('HMGET', jobKey(id), 'state', 'name', 'res', 'err', 'chain', 'par', 'fkids', 'fpend')
  local state, name = h[1], h[2]
  local res = (h[3] and h[3] ~= '') and h[3] or nil
  local err = (h[4] and h[4] ~= '') and h[4] or 'null'
  if h[5] and h[5] ~= '' then nextStep(id, state, name, res, err, h[5]) end
  if h[6] then settle(cjson.decode(h[6]), QUEUE, id, state, outcomeJson(id, name, state, res, err)) end
  if h[7] and state ~= 'completed' and tonumber(h[8]) > 0 then cancelChildren(h[7]) end
end

-- A pending job of a workflow removed by hand (removalAftermath): its parent hears it was
-- cancelled, its children are cancelled; its chain does not go on. h: state, name, par, fkids, fpend, err.
local function afterRemove(id, h)
  if h[1] ~= 'waiting' and h[1] ~= 'delayed' and h[1] ~= 'waiting-children' then return end
  local err = (h[6] and h[6] ~= '') and h[6] or 'null'
  if h[3] then settle(cjson.decode(h[3]), QUEUE, id, 'cancelled', outcomeJson(id, h[2], 'cancelled', nil, err)) end
  if h[4] and tonumber(h[5]) > 0 then cancelChildren(h[4]) end
end
`;
