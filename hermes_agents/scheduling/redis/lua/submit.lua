-- submit: queue one ticket (ARGV 10 rank, 11 tokens, 12 tier: critical, standard or
-- sheddable, 13 app), renew this process's lease, then admit what fits. A critical or
-- standard ticket marks higher-tier work about (higher_at) while the backend keeps headroom.
-- Returns {ticket, this process's grants, corrupt tickets, max_concurrency, epoch}.
local tier = ARGV[12]
if not TIERS[tier] then  -- refused before anything is read or written
  return redis.error_reply('HERMES_ARGUMENT tier ' .. tostring(tier) .. ' is not one of critical, standard, sheddable')
end
local limits, problem = ready()
if not limits then return redis.error_reply(problem) end
keep_alive()
local tokens_running = limits[5] - reap(limits)
local member = string.format('%012d', redis.call('HINCRBY', meta, 'seq', 1))
local tokens = tonumber(ARGV[11])
redis.call('HSET', tickets, member, me .. '|' .. ARGV[11] .. '|' .. now .. '|' .. tier .. '|' .. ARGV[13])
redis.call('SADD', base .. 'owned:' .. me, member)
if shed_cap and tier ~= 'sheddable' then
  redis.call('HSET', meta, 'higher_at', now)
  limits[9] = now
end
local mine, bad = {member}, {}
local running = redis.call('ZCARD', leases)
if running < limits[1] and redis.call('ZCARD', queue) == 0
    and (limits[2] == 0 or running == 0 or tokens_running + tokens <= limits[2])
    and not kept_back(limits, tier, running) then
  -- nobody waits and it fits: admitted at once (what admit() would do, in fewer steps)
  hold(limits, member, tier)
  redis.call('HINCRBY', meta, 'granted', 1)
  tokens_running = tokens_running + tokens
else
  redis.call('ZADD', queue, ARGV[10], member)
  redis.call('ZADD', arrivals, now, member)
  mine, bad, tokens_running = admit(limits, tokens_running, running)
end
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {member, mine, bad, limits[1], epoch}
