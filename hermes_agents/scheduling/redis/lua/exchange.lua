-- exchange: end some of this process's tickets and queue new ones, in one step (the calls of
-- several threads of one process, batched by scheduling/redis/combiner.py; a lone submit or
-- release is an exchange of one). ARGV 10: how many tickets end (R); ARGV 11 .. 10+R: their
-- names (a running one frees its slot, a waiting one is withdrawn); then one group of four per
-- new ticket: rank, tokens, tier (critical, standard or sheddable), app. Ends come first, then
-- expired processes are reaped, then the new tickets are admitted at once if nobody waits and
-- all of them fit, else queued, and admission runs in rank order (so of new tickets that came
-- together, the best-ranked go first). A new
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
  if finite(ARGV[i]) == nil or not string.match(ARGV[i + 1], '^%d+$') then
    return redis.error_reply('HERMES_ARGUMENT rank ' .. tostring(ARGV[i]) .. ' and tokens '
      .. tostring(ARGV[i + 1]) .. ': a finite number and a whole number of tokens')
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
local running = redis.call('ZCARD', leases)
local news, new_tokens, sheddable = (#ARGV - first_new + 1) / 4, 0, false
for i = first_new, #ARGV, 4 do
  new_tokens = new_tokens + tonumber(ARGV[i + 1])
  if ARGV[i + 2] == 'sheddable' then sheddable = true end
end
-- Admitted at once, without queueing, when nobody waits and every new ticket fits (what
-- admit() would do, in fewer steps); otherwise all are queued and admitted in rank order.
local at_once = news > 0 and running + news <= limits[1] and redis.call('ZCARD', queue) == 0
  and (limits[2] == 0 or tokens_running + new_tokens <= limits[2] or (running == 0 and news == 1))
  and not (sheddable and shed_cap)
local seq = 0  -- the new tickets' names: the next `news` numbers
if news > 0 then seq = redis.call('HINCRBY', meta, 'seq', news) - news end
for i = first_new, #ARGV, 4 do
  local tier = ARGV[i + 2]
  seq = seq + 1
  local member = string.format('%012d', seq)
  members[#members + 1] = member
  redis.call('HSET', tickets, member, me .. '|' .. ARGV[i + 1] .. '|' .. now .. '|' .. tier .. '|' .. ARGV[i + 3])
  redis.call('SADD', owned, member)
  if shed_cap and tier ~= 'sheddable' then
    redis.call('HSET', meta, 'higher_at', now)
    limits[9] = now
  end
  if at_once then
    hold(limits, member, tier)
    mine[#mine + 1] = member
  else
    redis.call('ZADD', queue, ARGV[i], member)
    redis.call('ZADD', arrivals, now, member)
  end
end
if at_once then
  redis.call('HINCRBY', meta, 'granted', news)
  running, tokens_running = running + news, tokens_running + new_tokens
end
if ends > 0 or (news > 0 and not at_once) then  -- slots freed, or tickets queued: admit
  local granted
  granted, bad, tokens_running = admit(limits, tokens_running, running)
  for _, member in ipairs(granted) do mine[#mine + 1] = member end
end
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {statuses, members, mine, bad, limits[1], epoch}
