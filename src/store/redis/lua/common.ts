/**
 * Lua shared by every script, prepended when a script is loaded.
 *
 * Every script gets the same KEYS, the queue's fixed keys (one hash slot: the prefix carries a
 * `{queue}` hash tag), and the same first three ARGV:
 *   KEYS[1] waiting   ZSET  id → priority * 2^32 + seq (claim order)
 *   KEYS[2] delayed   ZSET  id → runAt
 *   KEYS[3] active    ZSET  id → lease expiry (in the lease clock, below)
 *   KEYS[4] completed ZSET  id → finishedAt       (and KEYS[5] failed, KEYS[6] dead, KEYS[7] cancelled)
 *   KEYS[8] dedup     HASH  dedupKey → id of the pending job holding it
 *   KEYS[9] meta      HASH  paused, nextId, seq, lease (counters)
 *   KEYS[10] waiting-children ZSET id → when the parent started waiting for its children
 *   ARGV[1] key prefix of the queue (job hashes are <prefix>job:<id>, logs <prefix>logs:<id>,
 *           event channels <prefix>events:<type>)
 *   ARGV[2] queue name    ARGV[3] now (epoch ms, from the caller's clock)
 * Script-specific ARGV start at ARGV[4].
 *
 * Two clocks: every time a script records (start, end, runAt, event times) is the caller's `now`;
 * lease expiries are set and compared by `leaseNow()`, defined before this prelude (lease-clock.ts):
 * the server's own TIME by default, so a call Redis runs late or a worker whose clock is off can
 * neither receive an already expired lease nor take a valid one.
 *
 * A job hash keeps few fields, because Redis stores small hashes as a packed list that every
 * read and write scans: `data` (JSON of everything immutable, read only by JavaScript), and for
 * the scripts `name`, `prio`, `ret` ("rcCount,rcAge,rfCount,rfAge,deadLetter", '' = no limit),
 * `dk` (dedup key, when set), `state`, `seq`, `runAt`, `att` (attempts made), `start`, `end`,
 * `lease` ("token expiresAt workerId", '' when none), `stalls`, `prog`, `res`, `err`, `dead`
 * and `nlog` (log lines).
 */
export const COMMON = `
local rcall = redis.call
local P, QUEUE, NOW = ARGV[1], ARGV[2], tonumber(ARGV[3])
local NOWS = ARGV[3]
local K = { waiting = KEYS[1], delayed = KEYS[2], active = KEYS[3], completed = KEYS[4],
  failed = KEYS[5], dead = KEYS[6], cancelled = KEYS[7], dedup = KEYS[8], meta = KEYS[9], ['waiting-children'] = KEYS[10] }
local PENDING = { waiting = true, delayed = true, active = true, ['waiting-children'] = true }
-- What a finished job of a workflow sets off (workflow.ts); jobs outside workflows never call it.
local afterFinish

local function jobKey(id) return P .. 'job:' .. id end
local function logsKey(id) return P .. 'logs:' .. id end
local function stepsKey(id) return P .. 'steps:' .. id end
local function outcomesKey(id) return P .. 'outcomes:' .. id end
local function str(value) return cjson.encode(value) end

-- One field of a flat HGETALL reply.
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
  return nil
end

-- Whether anyone listens to this event type, asked once per script call: unwatched events cost
-- nothing, which matters on the hot path (active, completed) when only workers are connected.
-- On a Redis Cluster events go by sharded pub/sub (queue-scripts.ts swaps the commands): a
-- channel lives in its queue's slot, so this node counts every subscriber and nothing crosses
-- the cluster bus.
local PUBLISH, NUMSUB = 'PUBLISH', 'NUMSUB'
-- The hash tag every queue of the store shares ('' = each queue its own), set by queue-scripts.ts.
local SLOT_TAG = ''
local listening = {}
local function watched(kind)
  local known = listening[kind]
  if known == nil then
    known = rcall('PUBSUB', NUMSUB, P .. 'events:' .. kind)[2] > 0
    listening[kind] = known
  end
  return known
end

-- Builds an event's JSON; extra is a raw fragment such as ',"attempt":2'.
local function emit(kind, id, name, extra)
  if not watched(kind) then return end
  rcall(PUBLISH, P .. 'events:' .. kind, '{"type":"' .. kind .. '","queue":' .. str(QUEUE) .. ',"at":' .. NOWS ..
    ',"jobId":' .. str(id) .. ',"name":' .. str(name) .. (extra or '') .. '}')
end

-- Records who made a hand-made change, as JSON the codec reads back as changedBy.
local function changedBy(id, action, by)
  if by == '' then return end
  rcall('HSET', jobKey(id), 'chg', '{"action":"' .. action .. '","by":' .. str(by) .. ',"at":' .. NOWS .. '}')
end

-- A job with everything a caller needs: its hash, its log lines, its durable steps and a
-- parent's child outcomes (each read only when it has some), its id.
local function snapshot(id)
  local flat = rcall('HGETALL', jobKey(id))
  local logs = {}
  local nlog = field(flat, 'nlog')
  if nlog and nlog ~= '0' then logs = rcall('LRANGE', logsKey(id), 0, -1) end
  local steps = field(flat, 'nstep') and rcall('HGETALL', stepsKey(id)) or nil
  if field(flat, 'fkids') then return { flat, logs, id, steps or {}, rcall('LRANGE', outcomesKey(id), 0, -1) } end
  if steps then return { flat, logs, id, steps } end
  return { flat, logs, id }
end

-- rcCount, rcAge, rfCount, rfAge, deadLetter from a job's ret field.
local function rules(ret)
  return string.match(ret or ',,,,1', '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
end

-- Queues a job in waiting (due) or delayed, behind every job already there. Returns state, seq;
-- the caller writes them to the job's hash along with its own fields.
local function place(id, priority, runAt)
  local seq = rcall('HINCRBY', K.meta, 'seq', 1)
  if tonumber(runAt) > NOW then
    rcall('ZADD', K.delayed, runAt, id)
    return 'delayed', seq
  end
  rcall('ZADD', K.waiting, tonumber(priority) * 4294967296 + (seq % 4294967296), id)
  return 'waiting', seq
end

-- place() plus the hash update; extra is a list of more field/value pairs.
local function schedule(id, priority, runAt, extra)
  local state, seq = place(id, priority, runAt)
  local args = { jobKey(id), 'state', state, 'seq', seq, 'runAt', runAt, 'lease', '' }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  rcall('HSET', unpack(args))
  return state
end

local function releaseDedup(id, dedupKey)
  if dedupKey and dedupKey ~= '' and rcall('HGET', K.dedup, dedupKey) == id then rcall('HDEL', K.dedup, dedupKey) end
end

local function deleteJob(id)
  releaseDedup(id, rcall('HGET', jobKey(id), 'dk'))
  rcall('DEL', jobKey(id), logsKey(id), stepsKey(id), outcomesKey(id))
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

-- Moves a job into a finished state: out of its set, lease dropped, dedup key freed, in one
-- HSET with the caller's extra field/value pairs.
local function finish(id, fromState, toState, dedupKey, extra)
  rcall('ZREM', K[fromState], id)
  local args = { jobKey(id), 'state', toState, 'end', NOWS, 'lease', '' }
  if extra then for _, v in ipairs(extra) do args[#args + 1] = v end end
  rcall('HSET', unpack(args))
  rcall('ZADD', K[toState], NOW, id)
  releaseDedup(id, dedupKey)
end

-- A failure with no retry left: dead-letter store, or failed when dead-lettering is off.
-- attempts and err are the job's new attempt count and last error (JSON); written in the same HSET.
local function finalFailure(id, fromState, reason, attempts, err)
  local h = rcall('HMGET', jobKey(id), 'ret', 'name', 'dk', 'wf')
  local _, _, rfCount, rfAge, deadLetter = rules(h[1])
  if deadLetter ~= '1' then
    finish(id, fromState, 'failed', h[3], { 'att', attempts, 'err', err })
    if h[4] then afterFinish(id) end
    retain(K.failed, rfCount, rfAge)
    return 'failed'
  end
  local dead = '{"reason":"' .. reason .. '","at":' .. NOWS .. ',"attempts":' .. attempts .. ',"queue":' .. str(QUEUE) ..
    ',"error":' .. err .. '}'
  finish(id, fromState, 'dead', h[3], { 'att', attempts, 'err', err, 'dead', dead })
  emit('dead', id, h[2], ',"deadLetter":' .. dead)
  if h[4] then afterFinish(id) end
  return 'dead'
end

-- Due delayed jobs become waiting.
local function promoteDue()
  local due = rcall('ZRANGEBYSCORE', K.delayed, '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    rcall('ZREM', K.delayed, id)
    local h = rcall('HMGET', jobKey(id), 'prio', 'runAt')
    schedule(id, h[1], h[2])
  end
end

-- Claims up to limit waiting jobs under fresh leases. Returns { nextDueAt or '', {snapshots} }.
local function claim(limit, leaseMs, workerId)
  promoteDue()
  local jobs = {}
  if limit > 0 and rcall('HGET', K.meta, 'paused') ~= '1' then
    local popped = rcall('ZPOPMIN', K.waiting, limit)
    local count = #popped / 2
    if count > 0 then
      local lastToken = rcall('HINCRBY', K.meta, 'lease', count)
      local expires = string.format('%d', leaseNow() + leaseMs)
      -- One ZADD for the whole batch: each redis.call costs more than the work it does here.
      local leases = {}
      for k = 1, count do
        leases[2 * k - 1] = expires
        leases[2 * k] = popped[2 * k - 1]
      end
      rcall('ZADD', K.active, unpack(leases))
      for k = 1, count do
        local id = popped[2 * k - 1]
        local token = tostring(lastToken - count + k)
        rcall('HSET', jobKey(id), 'state', 'active', 'start', NOWS, 'lease', token .. ' ' .. expires .. ' ' .. workerId)
        local s = snapshot(id)
        local flat = s[1]
        if watched('active') then
          emit('active', id, field(flat, 'name'), ',"attempt":' .. (tonumber(field(flat, 'att')) + 1) ..
            ',"workerId":' .. str(workerId))
        end
        -- One bulk string per job instead of one per hash field: the client's reply parsing
        -- (a buffer and a string per field) was most of a busy worker's garbage. The data field
        -- (already JSON) goes in as it is, ahead of the rest: escaping it into a string cost
        -- this script time and the client a second parse.
        -- So do a workflow job's links (chain, prev, par, fkids: JSON too), in an object between.
        local data, links = '{}', nil
        for i = 1, #flat, 2 do
          local f = flat[i]
          if f == 'data' then
            data = flat[i + 1]
            flat[i + 1] = ''
          elseif f == 'chain' or f == 'prev' or f == 'par' or f == 'fkids' then
            links = (links and (links .. ',') or '') .. '"' .. f .. '":' .. flat[i + 1]
            flat[i + 1] = ''
          end
        end
        jobs[k] = '[' .. data .. ',' .. (links and ('{' .. links .. '}') or '{}') .. ',' .. cjson.encode(s) .. ']'
      end
    end
  end
  local nextDue = rcall('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  return { nextDue[2] or '', jobs }
end

-- The lease's token, expiry and worker ('' when there is none).
local function lease(value)
  return string.match(value or '', '^(%S+) (%S+) (.*)$')
end

-- Whether token still holds the job's lease (given its state and lease fields).
local function holds(state, leaseField, token)
  return state == 'active' and lease(leaseField) == token
end

local function held(id, token)
  local h = rcall('HMGET', jobKey(id), 'state', 'lease')
  return holds(h[1], h[2], token)
end
`;
