/**
 * finish — records attempt outcomes in order, then optionally claims (one round trip a batch).
 * KEYS: the common nine.  ARGV[1..3]: common.
 * ARGV[4] claim limit (0 = no claim), ARGV[5] leaseMs, ARGV[6] workerId, ARGV[7] outcome count;
 * then per outcome 7 fields: id, token, kind ('completed'/'failed'), result JSON ('' = undefined),
 *   error JSON, retryAt ('' = final), reason (for final failures).
 * Returns { { state or '' per outcome ('' = token no longer held the job) }, claim result or '' }.
 * Publishes: completed | failed, retrying, dead; active for claimed jobs; and what a workflow's
 * finished jobs set off (workflow.ts), in whichever queues that touches.
 */
export const FINISH = `
local states = {}
local count = tonumber(ARGV[7])
-- Completions move between sets in one ZREM and one ZADD for the batch, then retention runs
-- once: per-job set calls were most of this script's cost. (A batch whose jobs have different
-- retention rules moves them one by one, each trimmed by its own rule, in order.)
local completedIds, completedPairs, completedRules, ruleCount, rulesSeen = {}, {}, {}, 0, {}
for i = 0, count - 1 do
  local b = 8 + i * 7
  local id, token, kind, result, err, retryAt, reason = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4],
    ARGV[b + 5], ARGV[b + 6]
  local h = rcall('HMGET', jobKey(id), 'state', 'lease', 'name', 'start', 'ret', 'prio', 'att', 'dk', 'wf')
  if not holds(h[1], h[2], token) then
    states[#states + 1] = ''
  else
    local attempts = tonumber(h[7]) + 1
    if kind == 'completed' then
      rcall('HSET', jobKey(id), 'state', 'completed', 'end', NOWS, 'lease', '', 'att', attempts, 'res', result)
      releaseDedup(id, h[8])
      completedIds[#completedIds + 1] = id
      completedPairs[#completedPairs + 1] = NOWS
      completedPairs[#completedPairs + 1] = id
      if watched('completed') then
        emit('completed', id, h[3], ',"attempt":' .. attempts .. (result ~= '' and (',"result":' .. result) or '') ..
          ',"durationMs":' .. (NOW - tonumber(h[4] or NOWS)))
      end
      if h[9] then afterFinish(id) end
      local ret = h[5] or ''
      completedRules[#completedIds] = ret
      if not rulesSeen[ret] then
        rulesSeen[ret] = true
        ruleCount = ruleCount + 1
      end
      states[#states + 1] = 'completed'
    else
      emit('failed', id, h[3], ',"attempt":' .. attempts .. ',"error":' .. err .. ',"final":' ..
        (retryAt == '' and 'true' or 'false'))
      if retryAt == '' then
        states[#states + 1] = finalFailure(id, 'active', reason, attempts, err)
      else
        rcall('ZREM', K.active, id)
        states[#states + 1] = schedule(id, h[6], retryAt, { 'att', attempts, 'err', err })
        emit('retrying', id, h[3], ',"attempt":' .. (attempts + 1) .. ',"retryAt":' .. retryAt)
      end
    end
  end
end
if ruleCount == 1 then
  rcall('ZREM', K.active, unpack(completedIds))
  rcall('ZADD', K.completed, unpack(completedPairs))
  local rcCount, rcAge = rules(completedRules[1] ~= '' and completedRules[1] or nil)
  retain(K.completed, rcCount, rcAge)
elseif ruleCount > 1 then
  for k, id in ipairs(completedIds) do
    rcall('ZREM', K.active, id)
    rcall('ZADD', K.completed, NOWS, id)
    local rcCount, rcAge = rules(completedRules[k] ~= '' and completedRules[k] or nil)
    retain(K.completed, rcCount, rcAge)
  end
end
local claimed = ''
if tonumber(ARGV[4]) > 0 then claimed = claim(tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]) end
return { states, claimed }
`;
