// The audit log's scripts. Not queue scripts: they run without the common prelude, on one key.

/**
 * append-audit — appends entries to the audit stream, each under the id its cursor rule gives
 * (core/audit-cursor.ts: the entry's time, or the stream's last id and the next seq when that
 * is later), so ids only grow whichever process's clock or batch comes first. The stream's
 * last-generated-id outlives trimmed entries, so a trimmed-empty log still only grows.
 * KEYS[1] the audit STREAM (id "<ms>-<seq>" → field `e`, the entry's JSON text).
 * ARGV pairs: at (epoch ms), entry JSON; one pair per entry, in order.
 * Returns { id, ... } in the order given.  Publishes nothing.
 */
export const APPEND_AUDIT = `
local lastMs, lastSeq = 0, 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local dash = string.find(info[i + 1], '-', 1, true)
      lastMs = tonumber(string.sub(info[i + 1], 1, dash - 1))
      lastSeq = tonumber(string.sub(info[i + 1], dash + 1))
    end
  end
end
local ids = {}
for i = 1, #ARGV, 2 do
  local ms = math.max(math.floor(tonumber(ARGV[i])), lastMs, 0)
  local seq = 0
  if ms == lastMs then seq = lastSeq + 1 end
  -- '%.0f': tostring would write 1.7e+12
  local id = string.format('%.0f-%.0f', ms, seq)
  redis.call('XADD', KEYS[1], id, 'e', ARGV[i + 1])
  lastMs, lastSeq = ms, seq
  ids[#ids + 1] = id
end
return ids
`;

/**
 * trim-audit — deletes the oldest entries: those with an id below a minimum, then all but the
 * newest N. Exact trims (no `~`), so what the call names is what goes.  Needs Redis 6.2 (MINID).
 * KEYS[1] the audit STREAM.
 * ARGV[1] the smallest id kept ("<olderThan>-0"; '' for no age rule), ARGV[2] entries kept ('' for no count rule).
 * Returns how many entries were deleted.  Publishes nothing.
 */
export const TRIM_AUDIT = `
local removed = 0
if ARGV[1] ~= '' then removed = removed + redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1]) end
if ARGV[2] ~= '' then removed = removed + redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[2]) end
return removed
`;
