/**
 * finish — records attempt outcomes in order, then optionally claims (one round trip a batch).
 * KEYS: the common nine.  ARGV[1..3]: common.
 * ARGV[4] claim limit (0 = no claim), ARGV[5] leaseMs, ARGV[6] workerId, ARGV[7] outcome count;
 * then per outcome 7 fields: id, token, kind ('completed'/'failed'), result JSON ('' = undefined),
 *   error JSON, retryAt ('' = final), reason (for final failures).
 * Returns { { state or '' per outcome ('' = token no longer held the job) }, claim result or '' }.
 * Publishes: completed | failed, retrying, dead; active for claimed jobs.
 */
export const FINISH = `
local states = {}
local count = tonumber(ARGV[7])
for i = 0, count - 1 do
  local b = 8 + i * 7
  local id, token, kind, result, err, retryAt, reason = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4],
    ARGV[b + 5], ARGV[b + 6]
  if not held(id, token) then
    states[#states + 1] = ''
  else
    local key = jobKey(id)
    local attempts = rcall('HINCRBY', key, 'attemptsMade', 1)
    local h = rcall('HMGET', key, 'name', 'startedAt', 'rcCount', 'rcAge', 'priority')
    if kind == 'completed' then
      if result ~= '' then rcall('HSET', key, 'result', result) end
      finish(id, 'active', 'completed')
      emit('completed', id, h[1], ',"attempt":' .. attempts .. (result ~= '' and (',"result":' .. result) or '') ..
        ',"durationMs":' .. (NOW - tonumber(h[2] or NOWS)))
      retain(K.completed, h[3], h[4])
      states[#states + 1] = 'completed'
    else
      rcall('HSET', key, 'lastError', err)
      emit('failed', id, h[1], ',"attempt":' .. attempts .. ',"error":' .. err .. ',"final":' ..
        (retryAt == '' and 'true' or 'false'))
      if retryAt == '' then
        finalFailure(id, 'active', reason)
        states[#states + 1] = rcall('HGET', key, 'state') or 'dead'
      else
        rcall('ZREM', K.active, id)
        rcall('HDEL', key, unpack(LEASE_FIELDS))
        local state = schedule(id, h[5], retryAt)
        emit('retrying', id, h[1], ',"attempt":' .. (attempts + 1) .. ',"retryAt":' .. retryAt)
        states[#states + 1] = state
      end
    end
  end
end
local claimed = ''
if tonumber(ARGV[4]) > 0 then claimed = claim(tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]) end
return { states, claimed }
`;
