-- hermes-agents: the shared part of every admission script (prepended to each one).
-- KEYS: 1 meta, 2 queue, 3 arrivals, 4 tickets, 5 leases, 6 procs, 7 shed (all of one backend:
-- one hash slot through the {backend} tag). ARGV: 1 process id, 2 lease TTL ms,
-- 3 max_concurrency, 4 token_budget (0: none), 5 max_wait_ms (0: none), 6 max_hold_ms (0: none),
-- 7 sheddable_share (1: no headroom), 8 reserve_window_ms, 9 the epoch the process knows ('' at
-- first), then the script's own arguments. Every reply ends with the backend's epoch; a
-- process that knows another one is told so (HERMES_EPOCH) and nothing is done: Redis lost the
-- backend's state (a restart, a flush) and ticket names start over.
local meta, queue, arrivals, tickets, leases, procs = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local shed = KEYS[7]  -- running sheddable tickets (a subset of leases, same scores)
local base = string.sub(meta, 1, #meta - 4)
local me, ttl_ms = ARGV[1], tonumber(ARGV[2])
local SCHEMA = '2'
local TIERS = {critical = true, standard = true, sheddable = true}
local NEVER = 9007199254740991
local REAP_EVERY_MS = 100  -- expired leases are looked for at most this often
local REAP_BATCH = 256  -- tickets of dead processes dropped per script at most

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- The backend's limits: stored by the first process that used it; later ones use them.
local epoch = ''
-- The most slots sheddable tickets hold while higher-tier work is about (scheduling/reserve.py:
-- the share of max_concurrency rounded down, at least one); nil: no headroom (set by setup).
local shed_cap = nil
local shed_running = nil  -- the shed set's size, read when admission first needs it

-- A number stored in meta, or nil when it is not a finite one (NaN, inf, garbage).
local function finite(value)
  local number = tonumber(value)
  if number == nil or number ~= number or number == math.huge or number == -math.huge then
    return nil
  end
  return number
end

-- The headroom's share and window, or nil when they are not a share in (0, 1] and a window of
-- at least 0 ms.
local function headroom_limits(share, window)
  share, window = finite(share), finite(window)
  if share == nil or share <= 0 or share > 1 or window == nil or window < 0 then return nil end
  return share, window
end

-- The limits (1 max_concurrency, 2 token_budget, 3 max_wait_ms, 4 max_hold_ms,
-- 5 tokens_running, 6 reap_at, 7 sheddable_share, 8 reserve_window_ms, 9 higher_at: when
-- higher-tier work was last submitted), or nil and an error.
local function setup()
  local m = redis.call('HMGET', meta, 'schema', 'max_concurrency', 'token_budget', 'max_wait_ms',
    'max_hold_ms', 'tokens_running', 'reap_at', 'epoch', 'sheddable_share', 'reserve_window_ms', 'higher_at')
  epoch = m[8] or (clock[1] .. '.' .. clock[2])
  if m[1] == false then
    for i = 2, 7 do
      local kind = redis.call('TYPE', KEYS[i])['ok']
      if kind ~= 'none' then
        return nil, 'HERMES_LAYOUT ' .. KEYS[i] .. ' exists (a ' .. kind .. ') without ' .. meta
      end
    end
    local share, window = headroom_limits(ARGV[7], ARGV[8])
    if share == nil then
      return nil, 'HERMES_ARGUMENT sheddable_share ' .. tostring(ARGV[7]) .. ' and reserve_window_ms '
        .. tostring(ARGV[8]) .. ': a share in (0, 1] and a window of at least 0 ms'
    end
    redis.call('HSET', meta, 'schema', SCHEMA, 'max_concurrency', ARGV[3], 'token_budget', ARGV[4],
      'max_wait_ms', ARGV[5], 'max_hold_ms', ARGV[6], 'tokens_running', 0, 'seq', 0, 'epoch', epoch,
      'sheddable_share', ARGV[7], 'reserve_window_ms', ARGV[8])
    return {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), 0, 0, share, window, 0}
  end
  if m[1] ~= SCHEMA then
    return nil, 'HERMES_SCHEMA ' .. meta .. ' has schema ' .. tostring(m[1]) .. ', this client speaks ' .. SCHEMA
  end
  -- a reap time in the past or at most one interval ahead; anything else reaps now
  local reap_at = finite(m[7]) or 0
  if reap_at > now + REAP_EVERY_MS then reap_at = 0 end
  local share, window = headroom_limits(m[9], m[10])
  -- higher-tier work submitted later than a window ahead (corrupt, a clock gone wrong): ignored
  local higher_at = finite(m[11]) or 0
  if share ~= nil and higher_at > now + window then higher_at = 0 end
  local limits = {finite(m[2]), finite(m[3]), finite(m[4]), finite(m[5]), finite(m[6]), reap_at,
    share, window, higher_at}
  for i = 1, 5 do
    if limits[i] == nil or limits[i] < 0 then
      return nil, 'HERMES_LAYOUT ' .. meta .. ' holds unreadable limits'
    end
  end
  if share == nil then return nil, 'HERMES_LAYOUT ' .. meta .. ' holds unreadable limits' end
  if limits[1] < 1 then
    return nil, 'HERMES_LAYOUT ' .. meta .. ' holds max_concurrency ' .. limits[1]
  end
  if m[8] == false then redis.call('HSET', meta, 'epoch', epoch) end  -- made by an older client
  return limits
end

-- The limits, or an error reply: not ours, or another epoch than the process knows.
local function ready()
  local limits, problem = setup()
  if not limits then return nil, problem end
  if ARGV[9] ~= '' and ARGV[9] ~= epoch then
    return nil, 'HERMES_EPOCH ' .. meta .. ' is of epoch ' .. epoch .. ', not ' .. ARGV[9]
  end
  local cap = math.max(1, math.floor(limits[7] * limits[1]))
  if cap < limits[1] then shed_cap = cap end
  return limits
end

-- This process's lease runs TTL from now; rewritten only when less than half of it is left
-- (a read is cheaper than a write; the thread renews it every TTL/3 anyway). Every submit
-- comes here: a process that makes a ticket has a lease, so its tickets go when it dies. A
-- release does not (it needs no lease; the submits and the renewals keep it).
local function keep_alive()
  local until_ms = tonumber(redis.call('ZSCORE', procs, me))
  if not until_ms or until_ms < now + ttl_ms / 2 then
    redis.call('ZADD', procs, now + ttl_ms, me)
  end
end

-- A ticket record: "process|tokens|submitted_ms|tier|app"; nil when it is not one.
local function parse(record)
  if not record then return nil end
  local proc, tokens, tier = string.match(record, '^([^|]+)|(%d+)|%d+|(%l+)|')
  if not proc or not TIERS[tier] then return nil end
  return proc, tonumber(tokens), tier
end

-- Takes a running ticket's slot back (its lease removed already when known); returns its
-- tokens. A sheddable ticket (or one whose record is unreadable) leaves the shed set too.
local function free_lease(member, removed)
  local proc, tokens, tier = parse(redis.call('HGET', tickets, member))
  if not removed then redis.call('ZREM', leases, member) end
  if shed_cap and tier ~= 'critical' and tier ~= 'standard' and redis.call('ZREM', shed, member) == 1
      and shed_running then
    shed_running = shed_running - 1
  end
  redis.call('HDEL', tickets, member)
  if proc then redis.call('SREM', base .. 'owned:' .. proc, member) end
  return tokens or 0
end

-- Every member of the shed set holds a lease (free_lease takes it out with its lease); one
-- that does not (keys edited by hand) is dropped, 64 random members checked per reap, so a
-- stale entry never keeps sheddable tickets back for long.
local function sweep_shed()
  local members = redis.call('ZRANDMEMBER', shed, 64)
  if #members == 0 then return end
  local held = redis.call('ZMSCORE', leases, unpack(members))
  for i, member in ipairs(members) do
    if not held[i] then redis.call('ZREM', shed, member) end
  end
end

-- Processes whose lease expired lose their tickets and slots; so do slots held past the
-- hold bound (looked for at most every REAP_EVERY_MS; at most REAP_BATCH tickets of dead
-- processes per script, so one with a long queue stalls Redis for no long time: the next
-- script goes on). Returns the tokens freed.
local function reap(limits)
  if now < limits[6] then return 0 end
  local freed_tokens, left, more = 0, REAP_BATCH, false
  local dead = redis.call('ZRANGEBYSCORE', procs, '-inf', now, 'LIMIT', 0, 64)
  for _, proc in ipairs(dead) do
    if left <= 0 then more = true break end
    local owned = base .. 'owned:' .. proc
    local members = redis.call('SPOP', owned, left)
    left = left - #members
    local expired = 0
    for _, member in ipairs(members) do
      if redis.call('ZSCORE', leases, member) then
        freed_tokens = freed_tokens + free_lease(member)
        expired = expired + 1
      else
        redis.call('ZREM', queue, member)
        redis.call('ZREM', arrivals, member)
        redis.call('HDEL', tickets, member)
      end
    end
    if expired > 0 then redis.call('HINCRBY', meta, 'expired', expired) end
    if left <= 0 and redis.call('SCARD', owned) > 0 then more = true break end
    redis.call('DEL', owned, base .. 'grants:' .. proc)
    redis.call('ZREM', procs, proc)
  end
  redis.call('HSET', meta, 'reap_at', more and 0 or now + REAP_EVERY_MS)
  local overdue = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 64)
  for _, member in ipairs(overdue) do
    freed_tokens = freed_tokens + free_lease(member)
  end
  if #overdue > 0 then redis.call('HINCRBY', meta, 'reclaimed', #overdue) end
  if shed_cap then sweep_shed() end
  return freed_tokens
end

-- Whether the headroom higher tiers keep (scheduling/reserve.py) keeps a ticket of `tier` back
-- while `running` tickets run: a sheddable one, when sheddable tickets hold shed_cap slots
-- and higher-tier work is about (one of its tickets runs, or one was submitted within the
-- window).
local function kept_back(limits, tier, running)
  if tier ~= 'sheddable' or not shed_cap or running < shed_cap then return false end
  shed_running = shed_running or redis.call('ZCARD', shed)
  if shed_running < shed_cap then return false end
  return running > shed_running or now - limits[9] < limits[8]
end

-- A ticket of `tier` takes a slot (its lease, and the shed set's entry of a sheddable one).
local function hold(limits, member, tier)
  local deadline = limits[4] > 0 and now + limits[4] or NEVER
  redis.call('ZADD', leases, deadline, member)
  if shed_cap and tier == 'sheddable' then
    redis.call('ZADD', shed, deadline, member)
    if shed_running then shed_running = shed_running + 1 end
  end
end

-- The oldest waiting ticket when it waited max_wait_ms and is not `head`: it goes first,
-- unless the headroom keeps it back (then the head goes, if it may). Returns it and its record.
local function promoted(limits, head, running)
  local oldest = redis.call('ZRANGE', arrivals, 0, 0, 'WITHSCORES')
  if not oldest[1] or oldest[1] == head or now - tonumber(oldest[2]) < limits[3] then return nil end
  local record = redis.call('HGET', tickets, oldest[1])
  local _, _, tier = parse(record)
  if kept_back(limits, tier, running) then return nil end
  return oldest[1], record
end

-- Admits waiting tickets in rank order (ties: arrival) while they fit; the oldest goes first
-- once it waited max_wait_ms. A sheddable ticket the headroom keeps back stops admission (in
-- tier order every ticket behind it is sheddable too), unless it was the oldest: then the head
-- goes instead. Grants of other processes are pushed to their lists; returns this process's
-- grants and the corrupt tickets dropped.
-- (running: the leases' count, when the caller knows it.)
local function admit(limits, tokens_running, running)
  local cap, budget = limits[1], limits[2]
  local mine, bad = {}, {}
  running = running or redis.call('ZCARD', leases)
  local granted, promotions = 0, 0
  while running < cap do
    -- the head leaves the queue here; it goes back if the oldest goes first or it does not fit
    local popped = redis.call('ZPOPMIN', queue)
    local head, score = popped[1], popped[2]
    if not head then break end
    local record, promote = nil, false
    if limits[3] > 0 then
      local oldest, its_record = promoted(limits, head, running)
      if oldest then
        redis.call('ZADD', queue, score, head)
        score = redis.call('ZSCORE', queue, oldest)
        redis.call('ZREM', queue, oldest)
        head, record, promote = oldest, its_record, true
      end
    end
    local proc, tokens, tier = parse(record or redis.call('HGET', tickets, head))
    if not proc then
      redis.call('ZREM', arrivals, head)
      redis.call('HDEL', tickets, head)
      redis.call('HINCRBY', meta, 'corrupt', 1)
      table.insert(bad, head)
    elseif kept_back(limits, tier, running)
        or (budget > 0 and running > 0 and tokens_running + tokens > budget) then
      if score then redis.call('ZADD', queue, score, head) end
      break
    else
      redis.call('ZREM', arrivals, head)
      hold(limits, head, tier)
      running, tokens_running = running + 1, tokens_running + tokens
      granted = granted + 1
      if promote then promotions = promotions + 1 end
      if proc == me then
        table.insert(mine, head)
      else
        -- (no expiry: a process's list is deleted with it when its lease expires, in reap())
        redis.call('RPUSH', base .. 'grants:' .. proc, head)
      end
    end
  end
  if granted > 0 then redis.call('HINCRBY', meta, 'granted', granted) end
  if promotions > 0 then redis.call('HINCRBY', meta, 'promoted', promotions) end
  return mine, bad, tokens_running
end
