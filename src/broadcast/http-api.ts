// The Pusher HTTP API's request bodies and its signed-query authentication, shared by every server
// that takes them (the Durable Object's) and every client that sends them.
import { md5 } from "@noble/hashes/legacy.js";
import * as v from "valibot";
import { toHex } from "../util/hex.ts";
import { ChannelNameSchema } from "./protocol.ts";
import { equalInConstantTime } from "./signature.ts";

/** Seconds an HTTP API request's signature stays valid, as Pusher's servers allow. */
export const SIGNATURE_WINDOW_SEC = 600;

const SocketId = v.pipe(v.string(), v.regex(/^\d+\.\d+$/, "a socket id like 1234.5678"));
const EventName = v.pipe(v.string(), v.minLength(1), v.maxLength(200));

/** `POST /apps/:appId/events`. */
export const TriggerBodySchema = v.object({
  name: EventName,
  data: v.string(),
  channels: v.optional(v.pipe(v.array(ChannelNameSchema), v.minLength(1), v.maxLength(100))),
  channel: v.optional(ChannelNameSchema),
  socket_id: v.optional(SocketId),
  info: v.optional(v.string()),
});

/** `POST /apps/:appId/batch_events`. */
export const BatchBodySchema = v.object({
  batch: v.pipe(
    v.array(v.object({ name: EventName, data: v.string(), channel: ChannelNameSchema, socket_id: v.optional(SocketId) })),
    v.minLength(1),
    v.maxLength(10),
  ),
});

/** What signs: the app's key and an HMAC of its secret (a `Broadcaster`'s `sign`). */
export interface ApiSigner {
  readonly key: string;
  sign(text: string): Promise<string>;
}

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  /** The decoded query, `auth_signature` included. */
  readonly query: Readonly<Record<string, string>>;
  readonly body: string | null;
}

/** Why a request's signature fails, or null when it verifies at `nowMs`. The message names no secret. */
export async function apiSignatureProblem(request: ApiRequest, signer: ApiSigner, nowMs: number): Promise<string | null> {
  const { query } = request;
  if (query.auth_key !== signer.key) return "Unknown or missing auth_key";
  const timestamp = Number(query.auth_timestamp);
  if (!Number.isFinite(timestamp) || Math.abs(nowMs / 1000 - timestamp) > SIGNATURE_WINDOW_SEC) {
    return `auth_timestamp must be within ${SIGNATURE_WINDOW_SEC} s of the server's time`;
  }
  if (request.body !== null && request.body.length > 0 && query.body_md5 !== bodyMd5(request.body)) return "body_md5 does not match the body";
  const expected = await signer.sign(stringToSign(request.method, request.path, query));
  return equalInConstantTime(expected, query.auth_signature ?? "") ? null : "auth_signature does not verify";
}

/** The query string of a signed request, as the `pusher` server SDK builds it. */
export async function signedApiQuery(method: string, path: string, body: string | null, signer: ApiSigner, nowMs: number): Promise<string> {
  const query: Record<string, string> = { auth_key: signer.key, auth_timestamp: String(Math.floor(nowMs / 1000)), auth_version: "1.0" };
  if (body !== null && body.length > 0) query.body_md5 = bodyMd5(body);
  query.auth_signature = await signer.sign(stringToSign(method, path, query));
  return new URLSearchParams(query).toString();
}

function stringToSign(method: string, path: string, query: Readonly<Record<string, string>>): string {
  const ordered = Object.keys(query).filter((k) => k !== "auth_signature").sort().map((k) => `${k.toLowerCase()}=${query[k]}`).join("&");
  return `${method}\n${path}\n${ordered}`;
}

const bodyMd5 = (body: string): string => toHex(md5(new TextEncoder().encode(body)));
