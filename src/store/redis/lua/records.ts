/**
 * compare-and-set-record — replaces one record only if it still holds the expected JSON text.
 * Not a queue script: it runs without the common prelude and its queue keys.
 * KEYS[1] the namespace's records HASH (key → JSON text).
 * ARGV[1] key, ARGV[2] expected JSON text ('null' for none), ARGV[3] new JSON text.
 * Returns 1 when written, 0 when the record was not the expected one.  Publishes nothing.
 */
export const COMPARE_AND_SET_RECORD = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then current = 'null' end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;
