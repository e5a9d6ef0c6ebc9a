-- release: ARGV 10 ticket ends (a running one frees its slot; a waiting one is withdrawn), then
-- admit what fits. Returns {1 released | 2 withdrawn | 0 unknown (its lease had expired),
-- this process's grants, corrupt tickets, epoch}.
local limits, problem = ready()
if not limits then return redis.error_reply(problem) end
local member = ARGV[10]
local owned = base .. 'owned:' .. me
local tokens_running = limits[5]
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
tokens_running = tokens_running - reap(limits)
local mine, bad
mine, bad, tokens_running = admit(limits, tokens_running)
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {status, mine, bad, epoch}
