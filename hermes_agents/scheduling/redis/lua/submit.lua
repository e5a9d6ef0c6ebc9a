-- submit: queue one ticket (ARGV 8 rank, 9 tokens, 10 app), renew this process's lease, then
-- admit what fits. Returns {ticket, this process's grants, corrupt tickets, max_concurrency,
-- epoch}.
local limits, problem = ready()
if not limits then return redis.error_reply(problem) end
keep_alive()
local tokens_running = limits[5] - reap(limits)
local member = string.format('%012d', redis.call('HINCRBY', meta, 'seq', 1))
local tokens = tonumber(ARGV[9])
redis.call('HSET', tickets, member, me .. '|' .. ARGV[9] .. '|' .. now .. '|' .. ARGV[10])
redis.call('SADD', base .. 'owned:' .. me, member)
local mine, bad = {member}, {}
local running = redis.call('ZCARD', leases)
if running < limits[1] and redis.call('ZCARD', queue) == 0
    and (limits[2] == 0 or running == 0 or tokens_running + tokens <= limits[2]) then
  -- nobody waits and it fits: admitted at once (what admit() would do, in fewer steps)
  redis.call('ZADD', leases, limits[4] > 0 and now + limits[4] or NEVER, member)
  redis.call('HINCRBY', meta, 'granted', 1)
  tokens_running = tokens_running + tokens
else
  redis.call('ZADD', queue, ARGV[8], member)
  redis.call('ZADD', arrivals, now, member)
  mine, bad, tokens_running = admit(limits, tokens_running, running)
end
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {member, mine, bad, limits[1], epoch}
