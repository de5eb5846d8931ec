/**
 * recover-stalled — active jobs whose lease expired (in the lease clock) go back to waiting, or
 * fail for good once they have stalled more than maxStalls times.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] maxStalls.
 * Returns { { snapshot of each requeued job }, { snapshot of each failed job } }.
 * Publishes: stalled per job; dead for those dead-lettered.
 */
export const RECOVER_STALLED = `
local maxStalls = tonumber(ARGV[4])
local requeued, failed = {}, {}
local now = leaseNow()
local expired = rcall('ZRANGEBYSCORE', K.active, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  local key = jobKey(id)
  local h = rcall('HMGET', key, 'state', 'lease', 'name', 'prio', 'att')
  local _, expires = lease(h[2])
  if h[1] ~= 'active' then
    -- Not active any more (nothing should leave it here, but it must not be scanned for ever).
    rcall('ZREM', K.active, id)
  elseif expires and tonumber(expires) <= now then
    local stalls = rcall('HINCRBY', key, 'stalls', 1)
    local again = stalls <= maxStalls
    emit('stalled', id, h[3], ',"stalls":' .. stalls .. ',"requeued":' .. (again and 'true' or 'false'))
    if again then
      rcall('ZREM', K.active, id)
      schedule(id, h[4], NOWS)
      requeued[#requeued + 1] = snapshot(id)
    else
      finalFailure(id, 'active', 'stalled', tonumber(h[5]) + 1,
        '{"name":"ConveyorError","code":"STALLED","message":"job stalled ' .. stalls .. ' times"}')
      failed[#failed + 1] = snapshot(id)
    end
  end
end
return { requeued, failed }
`;
