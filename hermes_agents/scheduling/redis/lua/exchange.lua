-- exchange: end some of this process's tickets and queue new ones, in one step (the calls of
-- several threads of one process, batched by scheduling/redis/combiner.py; a lone submit or
-- release is an exchange of one). ARGV 10: how many tickets end (R); ARGV 11 .. 10+R: their
-- names (a running one frees its slot, a waiting one is withdrawn); then one group of four per
-- new ticket: rank, tokens, tier (critical, standard or sheddable), app. Ends come first, then
-- expired processes are reaped, then the new tickets are queued in their order (one that finds
-- nobody waiting and fits is admitted at once), then admission runs in rank order. A new
-- critical or standard ticket marks higher-tier work about (higher_at) while the backend keeps
-- headroom; a new ticket renews this process's lease.
-- Returns {one status per ended ticket (1 released, 2 withdrawn, 0 unknown: its lease had
-- expired), the new tickets' names, this process's grants, corrupt tickets, max_concurrency,
-- epoch}.
local ends = tonumber(ARGV[10])
if ends == nil or ends < 0 or ends ~= math.floor(ends) or 10 + ends > #ARGV
    or (#ARGV - 10 - ends) % 4 ~= 0 then  -- refused before anything is read or written
  return redis.error_reply('HERMES_ARGUMENT an exchange of ' .. tostring(ARGV[10]) .. ' ends and '
    .. (#ARGV - 10) .. ' more arguments: the ends, then four per new ticket')
end
local first_new = 11 + ends
for i = first_new, #ARGV, 4 do
  local tier = ARGV[i + 2]
  if not TIERS[tier] then
    return redis.error_reply('HERMES_ARGUMENT tier ' .. tostring(tier) .. ' is not one of critical, standard, sheddable')
  end
  if not tonumber(ARGV[i + 1]) or not tonumber(ARGV[i]) then
    return redis.error_reply('HERMES_ARGUMENT rank ' .. tostring(ARGV[i]) .. ' and tokens '
      .. tostring(ARGV[i + 1]) .. ': numbers')
  end
end
local limits, problem = ready()
if not limits then return redis.error_reply(problem) end
local owned = base .. 'owned:' .. me
local tokens_running = limits[5]
local statuses = {}
for i = 11, 10 + ends do
  local member = ARGV[i]
  local status = 0
  if redis.call('ZREM', leases, member) == 1 then
    tokens_running = tokens_running - free_lease(member, true)
    status = 1
  elseif redis.call('ZREM', queue, member) == 1 then
    redis.call('ZREM', arrivals, member)
    redis.call('HDEL', tickets, member)
    status = 2
  end
  if status ~= 1 then redis.call('SREM', owned, member) end
  statuses[#statuses + 1] = status
end
if first_new <= #ARGV then keep_alive() end
tokens_running = tokens_running - reap(limits)
local members, mine, bad = {}, {}, {}
local running, waiting = redis.call('ZCARD', leases), nil
local at_once = 0
local seq = 0  -- the new tickets' names: the next (#ARGV - first_new + 1) / 4 numbers
if first_new <= #ARGV then
  seq = redis.call('HINCRBY', meta, 'seq', (#ARGV - first_new + 1) / 4) - (#ARGV - first_new + 1) / 4
end
for i = first_new, #ARGV, 4 do
  local tier, tokens = ARGV[i + 2], tonumber(ARGV[i + 1])
  seq = seq + 1
  local member = string.format('%012d', seq)
  members[#members + 1] = member
  redis.call('HSET', tickets, member, me .. '|' .. ARGV[i + 1] .. '|' .. now .. '|' .. tier .. '|' .. ARGV[i + 3])
  redis.call('SADD', owned, member)
  if shed_cap and tier ~= 'sheddable' then
    redis.call('HSET', meta, 'higher_at', now)
    limits[9] = now
  end
  waiting = waiting or redis.call('ZCARD', queue)
  if running < limits[1] and waiting == 0
      and (limits[2] == 0 or running == 0 or tokens_running + tokens <= limits[2])
      and not kept_back(limits, tier, running) then
    -- nobody waits and it fits: admitted at once (what admit() would do, in fewer steps)
    hold(limits, member, tier)
    running, tokens_running = running + 1, tokens_running + tokens
    at_once = at_once + 1
    mine[#mine + 1] = member
  else
    redis.call('ZADD', queue, ARGV[i], member)
    redis.call('ZADD', arrivals, now, member)
    waiting = waiting + 1
  end
end
if at_once > 0 then redis.call('HINCRBY', meta, 'granted', at_once) end
if ends > 0 or (waiting or 0) > 0 then  -- slots freed, or tickets queued: admit what fits
  local granted
  granted, bad, tokens_running = admit(limits, tokens_running, running)
  for _, member in ipairs(granted) do mine[#mine + 1] = member end
end
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {statuses, members, mine, bad, limits[1], epoch}
