/**
 * Lua shared by every script, prepended when a script is loaded.
 *
 * Every script gets the same KEYS, the queue's fixed keys (one hash slot: the prefix carries a
 * `{queue}` hash tag), and the same first three ARGV:
 *   KEYS[1] waiting   ZSET  id → priority * 2^32 + seq (claim order)
 *   KEYS[2] delayed   ZSET  id → runAt
 *   KEYS[3] active    ZSET  id → lease expiry
 *   KEYS[4] completed ZSET  id → finishedAt       (and KEYS[5] failed, KEYS[6] dead, KEYS[7] cancelled)
 *   KEYS[8] dedup     HASH  dedupKey → id of the pending job holding it
 *   KEYS[9] meta      HASH  paused, nextId, seq, lease (counters)
 *   ARGV[1] key prefix of the queue (job hashes are <prefix>job:<id>, logs <prefix>logs:<id>,
 *           event channels <prefix>events:<type>)
 *   ARGV[2] queue name    ARGV[3] now (epoch ms, from the caller's clock)
 * Script-specific ARGV start at ARGV[4].
 */
export const COMMON = `
local rcall = redis.call
local P, QUEUE, NOW = ARGV[1], ARGV[2], tonumber(ARGV[3])
local NOWS = ARGV[3]
local K = { waiting = KEYS[1], delayed = KEYS[2], active = KEYS[3], completed = KEYS[4],
  failed = KEYS[5], dead = KEYS[6], cancelled = KEYS[7], dedup = KEYS[8], meta = KEYS[9] }
local PENDING = { waiting = true, delayed = true, active = true }
local LEASE_FIELDS = { 'leaseToken', 'leaseWorker', 'leaseExpiresAt' }

local function jobKey(id) return P .. 'job:' .. id end
local function logsKey(id) return P .. 'logs:' .. id end
local function str(value) return cjson.encode(value) end

-- Builds an event's JSON; extra is a raw fragment such as ',"attempt":2'.
local function emit(kind, id, name, extra)
  rcall('PUBLISH', P .. 'events:' .. kind, '{"type":"' .. kind .. '","queue":' .. str(QUEUE) .. ',"at":' .. NOWS ..
    ',"jobId":' .. str(id) .. ',"name":' .. str(name) .. (extra or '') .. '}')
end

-- A job with everything a caller needs: its hash and its log lines.
local function snapshot(id) return { rcall('HGETALL', jobKey(id)), rcall('LRANGE', logsKey(id), 0, -1) } end

-- Puts a job in waiting (due) or delayed, behind every job already there.
local function schedule(id, priority, runAt)
  local seq = rcall('HINCRBY', K.meta, 'seq', 1)
  if tonumber(runAt) > NOW then
    rcall('ZADD', K.delayed, runAt, id)
    rcall('HSET', jobKey(id), 'state', 'delayed', 'seq', seq, 'runAt', runAt)
    return 'delayed', seq
  end
  rcall('ZADD', K.waiting, tonumber(priority) * 4294967296 + (seq % 4294967296), id)
  rcall('HSET', jobKey(id), 'state', 'waiting', 'seq', seq, 'runAt', runAt)
  return 'waiting', seq
end

local function releaseDedup(id, dedupKey)
  if dedupKey and dedupKey ~= '' and rcall('HGET', K.dedup, dedupKey) == id then rcall('HDEL', K.dedup, dedupKey) end
end

local function deleteJob(id)
  releaseDedup(id, rcall('HGET', jobKey(id), 'dedupKey'))
  rcall('DEL', jobKey(id), logsKey(id))
end

-- Trims a finished state's set to a retention rule ('' = no limit on that axis), oldest first.
local function retain(setKey, count, ageMs)
  if count and count ~= '' then
    local excess = rcall('ZCARD', setKey) - tonumber(count)
    if excess > 0 then
      local popped = rcall('ZPOPMIN', setKey, excess)
      for i = 1, #popped, 2 do deleteJob(popped[i]) end
    end
  end
  if ageMs and ageMs ~= '' then
    local old = rcall('ZRANGEBYSCORE', setKey, '-inf', '(' .. (NOW - tonumber(ageMs)))
    for _, id in ipairs(old) do
      rcall('ZREM', setKey, id)
      deleteJob(id)
    end
  end
end

-- Moves a job into a finished state: out of its set, lease dropped, dedup key freed.
local function finish(id, fromState, toState)
  rcall('ZREM', K[fromState], id)
  rcall('HDEL', jobKey(id), unpack(LEASE_FIELDS))
  rcall('HSET', jobKey(id), 'state', toState, 'finishedAt', NOWS)
  rcall('ZADD', K[toState], NOW, id)
  releaseDedup(id, rcall('HGET', jobKey(id), 'dedupKey'))
end

-- A failure with no retry left: dead-letter store, or failed when dead-lettering is off.
local function finalFailure(id, fromState, reason)
  local h = rcall('HMGET', jobKey(id), 'deadLetter', 'attemptsMade', 'lastError', 'name', 'rfCount', 'rfAge')
  if h[1] ~= '1' then
    finish(id, fromState, 'failed')
    retain(K.failed, h[5], h[6])
    return
  end
  finish(id, fromState, 'dead')
  local dead = '{"reason":"' .. reason .. '","at":' .. NOWS .. ',"attempts":' .. h[2] .. ',"queue":' .. str(QUEUE) ..
    ',"error":' .. (h[3] or 'null') .. '}'
  rcall('HSET', jobKey(id), 'dead', dead)
  emit('dead', id, h[4], ',"deadLetter":' .. dead)
end

-- Due delayed jobs become waiting.
local function promoteDue()
  local due = rcall('ZRANGEBYSCORE', K.delayed, '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    rcall('ZREM', K.delayed, id)
    local h = rcall('HMGET', jobKey(id), 'priority', 'runAt')
    schedule(id, h[1], h[2])
  end
end

-- Claims up to limit waiting jobs under fresh leases. Returns { nextDueAt or '', {snapshots} }.
local function claim(limit, leaseMs, workerId)
  promoteDue()
  local jobs = {}
  if limit > 0 and rcall('HGET', K.meta, 'paused') ~= '1' then
    local popped = rcall('ZPOPMIN', K.waiting, limit)
    for i = 1, #popped, 2 do
      local id = popped[i]
      local token = tostring(rcall('HINCRBY', K.meta, 'lease', 1))
      local expires = NOW + leaseMs
      rcall('HSET', jobKey(id), 'state', 'active', 'startedAt', NOWS, 'leaseToken', token, 'leaseWorker', workerId,
        'leaseExpiresAt', expires)
      rcall('ZADD', K.active, expires, id)
      local s = snapshot(id)
      jobs[#jobs + 1] = s
      local h = rcall('HMGET', jobKey(id), 'name', 'attemptsMade')
      emit('active', id, h[1], ',"attempt":' .. (tonumber(h[2]) + 1) .. ',"workerId":' .. str(workerId))
    end
  end
  local nextDue = rcall('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  return { nextDue[2] or '', jobs }
end

-- The job's current hash fields when token holds its lease, else nil.
local function held(id, token)
  local h = rcall('HMGET', jobKey(id), 'state', 'leaseToken')
  if h[1] == 'active' and h[2] == token then return true end
  return false
end
`;
