/**
 * get — one job.  KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] id.
 * Returns its snapshot, or '' when there is no such job.
 */
export const GET = `
if rcall('EXISTS', jobKey(ARGV[4])) == 0 then return '' end
return snapshot(ARGV[4])
`;

/**
 * list — a page of one state's jobs: waiting and delayed ascending (claim order, due time),
 * active by start (claim order: the lease token, a per-queue counter), finished states newest
 * first. The active set is kept by lease expiry for the stall check, so listing it reads every
 * active job's lease and sorts: work in proportion to the jobs running, on an operator's call,
 * rather than a second index that every claim and finish would pay for.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] state, ARGV[5] offset, ARGV[6] limit.
 * Returns { snapshot, ... }.
 */
export const LIST = `
local state, first = ARGV[4], tonumber(ARGV[5])
local last = first + tonumber(ARGV[6]) - 1
local ids
if state == 'active' then
  local all, order = rcall('ZRANGE', K.active, 0, -1), {}
  for _, id in ipairs(all) do order[id] = tonumber((lease(rcall('HGET', jobKey(id), 'lease')))) or 0 end
  table.sort(all, function(a, b) return order[a] < order[b] end)
  ids = {}
  for i = first + 1, math.min(last + 1, #all) do ids[#ids + 1] = all[i] end
elseif PENDING[state] then
  ids = rcall('ZRANGE', K[state], first, last)
else
  ids = rcall('ZREVRANGE', K[state], first, last)
end
local out = {}
for _, id in ipairs(ids) do out[#out + 1] = snapshot(id) end
return out
`;

/**
 * counts — jobs per state and whether the queue is paused.
 * KEYS: the common nine.  ARGV[1..3]: common.
 * Returns { waiting, delayed, active, completed, failed, dead, cancelled, paused (1/0), waiting-children }.
 */
export const COUNTS = `
return { rcall('ZCARD', K.waiting), rcall('ZCARD', K.delayed), rcall('ZCARD', K.active), rcall('ZCARD', K.completed),
  rcall('ZCARD', K.failed), rcall('ZCARD', K.dead), rcall('ZCARD', K.cancelled),
  rcall('HGET', K.meta, 'paused') == '1' and 1 or 0, rcall('ZCARD', K['waiting-children']) }
`;
