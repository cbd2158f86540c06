/**
 * The Lua side of RedisStore. One script runs one WindowHit, so recording, pruning, matching,
 * restarting the window and appending to the history are one atomic step on the server: two
 * replicas crossing a threshold at the same moment get one attack between them, not two.
 *
 * A window is a sorted set scored by event time; each member is `<id>|<label>`, the id unique
 * per event (a per-process random prefix and a fixed-width counter, so equal times keep their
 * insertion order within a process). A history is a sorted set of attacks, scored the same way.
 * Every write is followed by PEXPIRE, so every key Gatehouse writes has a TTL, always.
 *
 * The script keeps only events that can still take part in a match, so a flood of events on one
 * window costs Redis a bounded set, not one member per event:
 * - `count`: every event (a window never holds `count` events: reaching it is an attack);
 * - `all`: the latest event of each named label (exact, whatever order events arrive in);
 * - `sequence`: every event up to SEQUENCE_CAP; past it, only the events of the latest-starting
 *   partial match of each prefix of the labels. That decides exactly as keeping everything
 *   would for events arriving in time order; below the cap, events that arrive late (replicas'
 *   clocks and batches differ) still find their place.
 * Events whose label an `all`/`sequence` match does not name are not stored at all.
 * memory-store.ts implements the same rules; the contract suite holds both to them.
 */
import { SEQUENCE_CAP } from "./memory-store.ts";

/**
 * KEYS: window, history.
 * ARGV: time, window cutoff (drop scores <= it), window TTL ms, history cutoff, history TTL ms,
 * member (`id|label`), label, kind (`count` | `all` | `sequence`), then the count or the labels.
 * Returns 0 (no attack) or the attack's rank in the history (nth).
 */
export const HIT_LUA = `
local window, history = KEYS[1], KEYS[2]
local time, label, kind = ARGV[1], ARGV[7], ARGV[8]

local function labelOf(member)
  return string.sub(member, string.find(member, '|', 1, true) + 1)
end

local labels = {}
if kind ~= 'count' then
  local named = false
  for i = 9, #ARGV do
    labels[#labels + 1] = ARGV[i]
    if ARGV[i] == label then named = true end
  end
  if not named then return 0 end
end

redis.call('ZREMRANGEBYSCORE', window, '-inf', ARGV[2])

local attack, members, k = false, nil, #labels
if kind == 'count' then
  redis.call('ZADD', window, time, ARGV[6])
  attack = redis.call('ZCARD', window) >= tonumber(ARGV[9])
elseif kind == 'all' then
  local entries = redis.call('ZRANGE', window, 0, -1, 'WITHSCORES')
  local seen, newer = {}, false
  for i = 1, #entries, 2 do
    local l = labelOf(entries[i])
    if l == label then
      if tonumber(entries[i + 1]) > tonumber(time) then newer = true
      else redis.call('ZREM', window, entries[i]) end
    end
    seen[l] = true
  end
  if not newer then redis.call('ZADD', window, time, ARGV[6]) end
  seen[label] = true
  attack = true
  for _, l in ipairs(labels) do
    if not seen[l] then attack = false break end
  end
else
  redis.call('ZADD', window, time, ARGV[6])
  members = redis.call('ZRANGE', window, 0, -1)
  local j = 1
  for _, member in ipairs(members) do
    if labelOf(member) == labels[j] then
      j = j + 1
      if j > k then attack = true break end
    end
  end
end

if kind == 'sequence' and not attack and #members > ${SEQUENCE_CAP} then
  -- start[j], chain[j]: the partial match of labels[1..j] that starts latest (it outlives the others).
  local start, chain = {}, {}
  for i, member in ipairs(members) do
    local l = labelOf(member)
    for j = k, 1, -1 do
      if labels[j] == l then
        if j == 1 then
          start[1], chain[1] = i, { i }
        elseif start[j - 1] and (not start[j] or start[j - 1] >= start[j]) then
          local c = {}
          for n, e in ipairs(chain[j - 1]) do c[n] = e end
          c[#c + 1] = i
          start[j], chain[j] = start[j - 1], c
        end
      end
    end
  end
  local keep = {}
  for j = 1, k - 1 do
    if chain[j] then for _, e in ipairs(chain[j]) do keep[e] = true end end
  end
  for i, member in ipairs(members) do
    if not keep[i] then redis.call('ZREM', window, member) end
  end
end

if attack then
  redis.call('DEL', window)
  redis.call('ZREMRANGEBYSCORE', history, '-inf', ARGV[4])
  redis.call('ZADD', history, time, ARGV[6])
  redis.call('PEXPIRE', history, ARGV[5])
  return redis.call('ZCARD', history)
end
if redis.call('EXISTS', window) == 1 then redis.call('PEXPIRE', window, ARGV[3]) end
return 0
`;

/**
 * Reconciliation after an outage: add events (or attacks) counted locally to one sorted set, and
 * refresh its TTL, in one atomic step so the key can never be left without one. No matching:
 * what was decided locally stays decided.
 * KEYS: the key. ARGV: TTL ms, then score, member pairs.
 */
export const MERGE_LUA = `
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
`;
