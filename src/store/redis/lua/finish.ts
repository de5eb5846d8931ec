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
  local h = rcall('HMGET', jobKey(id), 'state', 'lease', 'name', 'start', 'ret', 'prio', 'att', 'dk')
  if not holds(h[1], h[2], token) then
    states[#states + 1] = ''
  else
    local attempts = tonumber(h[7]) + 1
    if kind == 'completed' then
      finish(id, 'active', 'completed', h[8], { 'att', attempts, 'res', result })
      if watched('completed') then
        emit('completed', id, h[3], ',"attempt":' .. attempts .. (result ~= '' and (',"result":' .. result) or '') ..
          ',"durationMs":' .. (NOW - tonumber(h[4] or NOWS)))
      end
      local rcCount, rcAge = rules(h[5])
      retain(K.completed, rcCount, rcAge)
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
local claimed = ''
if tonumber(ARGV[4]) > 0 then claimed = claim(tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]) end
return { states, claimed }
`;
