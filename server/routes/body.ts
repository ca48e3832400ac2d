/** A request's body as a Node stream, and what to do with the connection when it was refused. */
import { Readable } from 'node:stream'
import type { Context } from 'hono'
import type { AppEnv } from '../app.ts'

/** On Node read the socket directly; elsewhere (app.request in tests) the web stream. */
export const requestBody = (c: Context<AppEnv>): Readable =>
  c.env?.incoming ?? Readable.fromWeb((c.req.raw.body ?? new ReadableStream()) as never)

/**
 * Refused before a byte was read (no session, busy, disk low): Node reads and drops the body,
 * so the client gets to read the answer. Refused mid-body, or as too large to take: the rest
 * is not worth reading, so the connection closes after the answer.
 */
export function closeIfBodyRefused (c: Context<AppEnv>, err: unknown): void {
  const untouched = c.env?.incoming?.readableDidRead === false
  if (!untouched || (err as { status?: number }).status === 413) c.header('Connection', 'close')
}
