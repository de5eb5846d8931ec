/**
 * Whose clock times leases: `leaseNow()`, put before the common prelude of every queue script.
 *
 * - `server`: Redis's own clock (TIME, in ms). Scripts run one at a time on one clock, so a lease
 *   is timed from the moment Redis grants or renews it, however late the call arrived (a paused
 *   server, calls queued through an outage) and whatever the worker's clock says. Needs Redis 5
 *   or later (scripts replicated by their effects, so a script may read TIME and then write).
 * - `caller`: the `now` the call passed (ARGV[3]); for driving a store with fake time.
 */
export type LeaseClock = "server" | "caller";

export const LEASE_CLOCKS: Readonly<Record<LeaseClock, string>> = Object.freeze({
  server: `
local leaseTime
local function leaseNow()
  if not leaseTime then
    local t = redis.call('TIME')
    leaseTime = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return leaseTime
end
`,
  caller: `
local function leaseNow() return tonumber(ARGV[3]) end
`,
});
