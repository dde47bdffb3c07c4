"""The Lua scripts of the Redis store: each one change two server instances could race on
(reserving an operator for a call, removing a call from the queue, changing an operator's
state), done atomically. The store passes the keys in; only it knows their names.
"""

RESERVE = """
-- KEYS: op hash, task hash, waiting zset, ready zset, reservations zset
-- ARGV: op id, call id, now, deadline
if redis.call('HGET', KEYS[1], 'state') ~= 'ready' then return 0 end
if redis.call('HGET', KEYS[2], 'state') ~= 'waiting' then return -1 end
redis.call('HSET', KEYS[1], 'state', 'reserved', 'state_since', ARGV[3], 'call_id', ARGV[2],
           'last_offer_at', ARGV[3], 'reason', '')
redis.call('HSET', KEYS[2], 'state', 'offered', 'operator', ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
return 1
"""

RELEASE = """
-- Offer not taken: the call goes back to its place (its score is unchanged, so it stays
-- ahead of later callers); the operator goes to ARGV[3] (ready or not_ready).
-- KEYS: op hash, task hash, waiting zset, ready zset, reservations zset
-- ARGV: op id, call id, op target state, now, reason, operators this call skips
redis.call('ZREM', KEYS[5], ARGV[2])
local released = 0
if redis.call('HGET', KEYS[1], 'call_id') == ARGV[2]
   and redis.call('HGET', KEYS[1], 'state') == 'reserved' then
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'state_since', ARGV[4], 'call_id', '',
             'reason', ARGV[5])
  if ARGV[3] == 'ready' then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
  released = 1
end
if redis.call('HGET', KEYS[2], 'state') == 'offered'
   and redis.call('HGET', KEYS[2], 'operator') == ARGV[1] then
  redis.call('HSET', KEYS[2], 'state', 'waiting', 'operator', '')
  redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[2], 'score'), ARGV[2])
  redis.call('HINCRBY', KEYS[2], 'offers', 1)
  redis.call('HSET', KEYS[2], 'excluded', ARGV[6])
  return released + 2
end
return released
"""

ANSWER = """
-- KEYS: op hash, task hash, reservations zset
-- ARGV: op id, call id, now
if redis.call('HGET', KEYS[2], 'operator') ~= ARGV[1] then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'on_call', 'state_since', ARGV[3], 'call_id', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'calls_today', 1)
return 1
"""

REMOVE_TASK = """
-- The caller left (abandon or hang-up) or the call left the queue another way.
-- KEYS: task hash, waiting zset, reservations zset, ready zset
-- ARGV: call id, now
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return nil end
local op = redis.call('HGET', KEYS[1], 'operator')
local enq = redis.call('HGET', KEYS[1], 'enqueued_at')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return {state, op or '', enq}
"""

SET_STATE = """
-- Change an operator's state if its current state is one of ARGV[5..].
-- KEYS: op hash, ready zset
-- ARGV: op id, target state, now, reason, allowed current states...
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {'missing'} end
local ok = false
for i = 5, #ARGV do if ARGV[i] == cur then ok = true end end
if not ok then return {'refused', cur} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'state_since', ARGV[3], 'reason', ARGV[4])
if ARGV[2] ~= 'reserved' and ARGV[2] ~= 'on_call' then
  redis.call('HSET', KEYS[1], 'call_id', '')
end
if ARGV[2] == 'ready' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
else redis.call('ZREM', KEYS[2], ARGV[1]) end
return {'ok', cur}
"""
