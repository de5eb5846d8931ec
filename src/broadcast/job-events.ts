// Job lifecycle events as broadcasts: opt-in per queue, to one channel for the queue and one per job.
import type { ConveyorEventData, ConveyorEventType } from "../core/events.ts";
import type { Queue } from "../core/queue.ts";
import { reportError } from "../util/report-error.ts";
import type { Broadcaster } from "./broadcaster.ts";

export interface JobBroadcastOptions {
  /** Which events go out. @default every job event, flow.progress and batch.progress included (not drained/paused/resumed) */
  types?: readonly ConveyorEventType[];
  /** The channels of one event. @default the queue's and the job's: see `queueChannel` and `jobChannel` */
  channels?: (event: ConveyorEventData) => readonly string[];
  /**
   * Send results and progress as stored, for when your channel authoriser admits only those who
   * may read payloads. Errors are redacted and stacks left out either way. @default false (redacted)
   */
  payloads?: boolean;
}

/** Every event about a job: its own lifecycle, and a parent's (a flow's or a batch's) as its children end. */
export const JOB_EVENT_TYPES: readonly ConveyorEventType[] = [
  "enqueued", "active", "progress", "completed", "failed", "retrying", "cancelled", "dead", "stalled", "removed", "flow.progress", "batch.progress",
];

/** Pusher channel names allow letters, digits and `_-=@,.;`; anything else in a name becomes `_`. */
const safe = (text: string): string => text.replace(/[^A-Za-z0-9_\-=@,.;]/g, "_");

/** `private-conveyor.queue.<queue>`: every broadcast event of the queue. */
export const queueChannel = (queue: string): string => `private-conveyor.queue.${safe(queue)}`.slice(0, 164);
/** `private-conveyor.job.<queue>.<id>`: one job's events, e.g. for a progress bar. */
export const jobChannel = (queue: string, id: string): string => `private-conveyor.job.${safe(queue)}.${safe(id)}`.slice(0, 164);

/** The default channels of one event: the queue's, and the job's when it is about one job. */
export const defaultJobChannels = (event: ConveyorEventData): readonly string[] =>
  "jobId" in event ? [queueChannel(event.queue), jobChannel(event.queue, event.jobId)] : [queueChannel(event.queue)];

/**
 * Broadcasts `queue`'s job events (as `job.<type>`, the event's data as the message) until the
 * returned function is called. Private channels by default: the authoriser decides who may listen.
 * Every subscriber of a channel gets the same message, so it goes out as a reader without a
 * payload scope sees it (the queue's redactor), unless `payloads: true`.
 */
export function broadcastJobEvents(broadcaster: Broadcaster, queue: Queue, options: JobBroadcastOptions = {}): () => void {
  const channels = options.channels ?? defaultJobChannels;
  const redactor = queue.context.redactor;
  const access = { payloads: options.payloads === true, stacks: false };
  const reader = queue.events.stream({ types: [...(options.types ?? JOB_EVENT_TYPES)] }).getReader();
  void (async () => {
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      const event = next.value;
      await broadcaster.publish(channels(event), `job.${event.type}`, redactor.forReader(event, access)).catch((error) => reportError(error, `broadcasting ${event.type} of queue "${queue.name}"`));
    }
  })().catch((error) => reportError(error, `job event broadcast of queue "${queue.name}"`));
  return () => void reader.cancel();
}
