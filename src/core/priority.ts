/**
 * Lower numbers run first, as in BullMQ and Unix `nice`. Names are fixed points on the same
 * scale so that numeric priorities can sit between them.
 */
export const PRIORITIES = Object.freeze({ critical: 0, high: 100, normal: 200, low: 300 });

export type PriorityName = keyof typeof PRIORITIES;
export type Priority = PriorityName | number;

/** Highest numeric priority accepted: 2^20 - 1, so priority and sequence share one 53-bit score. */
export const MAX_PRIORITY = 1_048_575;

export function priorityValue(priority: Priority): number {
  return typeof priority === "number" ? priority : PRIORITIES[priority];
}
