import type { RateLimitDecision, RateLimitRule } from "./rate-limit-rules.ts";
import type { RateLimitBackend } from "./rate-limit-backend.ts";

type State =
  | { readonly kind: "window"; window: number; used: number }
  | { readonly kind: "log"; uses: number[] }
  | { readonly kind: "bucket"; tokens: number; at: number };

/** Limits kept in this process's memory: exact and fast, but each process counts alone. */
export class MemoryRateLimitBackend implements RateLimitBackend {
  readonly sharedAcrossProcesses = false;
  readonly #states = new Map<string, { state: State; expiresAt: number }>();
  #calls = 0;

  async consume(key: string, rule: RateLimitRule, cost: number, now: number): Promise<RateLimitDecision> {
    if (++this.#calls % 1_000 === 0) this.#sweep(now);
    const entry = this.#states.get(key);
    const live = entry && entry.expiresAt > now ? entry.state : undefined;
    switch (rule.algorithm) {
      case "fixed-window": {
        const window = Math.floor(now / rule.windowMs);
        const state = live?.kind === "window" && live.window === window ? live : { kind: "window" as const, window, used: 0 };
        const allowed = state.used + cost <= rule.limit;
        if (allowed) state.used += cost;
        const resetMs = (window + 1) * rule.windowMs - now;
        this.#states.set(key, { state, expiresAt: now + resetMs });
        return { allowed, limit: rule.limit, remaining: rule.limit - state.used, resetMs, retryAfterMs: allowed ? 0 : resetMs };
      }
      case "sliding-window": {
        const state = live?.kind === "log" ? live : { kind: "log" as const, uses: [] };
        const since = now - rule.windowMs;
        let drop = 0;
        while (drop < state.uses.length && state.uses[drop]! <= since) drop++;
        if (drop > 0) state.uses.splice(0, drop);
        const allowed = state.uses.length + cost <= rule.limit;
        if (allowed) for (let i = 0; i < cost; i++) state.uses.push(now);
        const oldest = state.uses[0] ?? now;
        // Refused: wait until enough of the oldest uses leave the window to make room for `cost`.
        const freeing = state.uses[Math.min(state.uses.length - 1, state.uses.length + cost - rule.limit - 1)] ?? now;
        this.#states.set(key, { state, expiresAt: (state.uses.at(-1) ?? now) + rule.windowMs });
        return {
          allowed,
          limit: rule.limit,
          remaining: Math.max(0, rule.limit - state.uses.length),
          resetMs: state.uses.length ? (state.uses.at(-1)! + rule.windowMs) - now : 0,
          retryAfterMs: allowed ? 0 : Math.max(1, (cost > rule.limit ? oldest : freeing) + rule.windowMs - now),
        };
      }
      case "token-bucket": {
        const perMs = rule.refillPerSecond / 1_000;
        const state = live?.kind === "bucket" ? live : { kind: "bucket" as const, tokens: rule.capacity, at: now };
        state.tokens = Math.min(rule.capacity, state.tokens + (now - state.at) * perMs);
        state.at = now;
        const allowed = state.tokens >= cost;
        if (allowed) state.tokens -= cost;
        const resetMs = Math.ceil((rule.capacity - state.tokens) / perMs);
        this.#states.set(key, { state, expiresAt: now + resetMs + 1 });
        return {
          allowed,
          limit: rule.capacity,
          remaining: Math.floor(state.tokens),
          resetMs,
          retryAfterMs: allowed ? 0 : Math.max(1, Math.ceil((cost - state.tokens) / perMs)),
        };
      }
    }
  }

  async refund(key: string, rule: RateLimitRule, cost: number, at: number): Promise<void> {
    const state = this.#states.get(key)?.state;
    if (!state) return;
    if (state.kind === "window" && rule.algorithm === "fixed-window") {
      if (state.window === Math.floor(at / rule.windowMs)) state.used = Math.max(0, state.used - cost);
    } else if (state.kind === "log") {
      // Uses made at the same time are alike: dropping any `cost` of them frees the same room.
      for (let i = state.uses.length - 1, left = cost; i >= 0 && left > 0; i--) {
        if (state.uses[i] === at) {
          state.uses.splice(i, 1);
          left--;
        }
      }
    } else if (state.kind === "bucket" && rule.algorithm === "token-bucket") {
      state.tokens = Math.min(rule.capacity, state.tokens + cost);
    }
  }

  async used(key: string, rule: RateLimitRule, now: number): Promise<number> {
    const entry = this.#states.get(key);
    const state = entry && entry.expiresAt > now ? entry.state : undefined;
    if (state?.kind === "window" && rule.algorithm === "fixed-window") return state.window === Math.floor(now / rule.windowMs) ? state.used : 0;
    if (state?.kind === "log" && rule.algorithm === "sliding-window") return state.uses.filter((at) => at > now - rule.windowMs).length;
    if (state?.kind === "bucket" && rule.algorithm === "token-bucket") {
      const tokens = Math.min(rule.capacity, state.tokens + Math.max(0, now - state.at) * rule.refillPerSecond / 1_000);
      return rule.capacity - Math.floor(tokens + 1e-9);
    }
    return 0;
  }

  async close(): Promise<void> {
    this.#states.clear();
  }

  /** Forgets keys whose state has run out, so one-off keys do not pile up. */
  #sweep(now: number): void {
    for (const [key, entry] of this.#states) if (entry.expiresAt <= now) this.#states.delete(key);
  }
}
