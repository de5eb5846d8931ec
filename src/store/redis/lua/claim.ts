/**
 * claim — promotes due delayed jobs, then claims waiting ones unless the queue is paused.
 * KEYS: the common nine.  ARGV[1..3]: common.  ARGV[4] limit, ARGV[5] leaseMs, ARGV[6] workerId.
 * Returns { nextDueAt or '', { snapshot, ... } } in claim order.
 * Publishes: active, per claimed job.
 */
export const CLAIM = `
return claim(tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6])
`;
