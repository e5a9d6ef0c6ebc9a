-- renew: this process's lease on the backend, and where its tickets (ARGV 10...) stand:
-- 0 waiting, 1 running, 2 gone (expired, dropped as corrupt, or lost with a restart).
-- Reaps expired processes and admits what fits. Returns {states, this process's grants,
-- corrupt tickets, epoch}.
local limits, problem = ready()
if not limits then return redis.error_reply(problem) end
local owned = base .. 'owned:' .. me
local states = {}
for i = 10, #ARGV do
  local member = ARGV[i]
  if redis.call('ZSCORE', queue, member) then
    states[#states + 1] = 0
  elseif redis.call('ZSCORE', leases, member) then
    states[#states + 1] = 1
  else
    states[#states + 1] = 2
    redis.call('SREM', owned, member)
  end
end
if #ARGV > 9 then
  redis.call('ZADD', procs, now + ttl_ms, me)
end
local tokens_running = limits[5] - reap(limits)
local mine, bad
mine, bad, tokens_running = admit(limits, tokens_running)
if tokens_running ~= limits[5] then redis.call('HSET', meta, 'tokens_running', tokens_running) end
return {states, mine, bad, epoch}
