import type { Context } from 'hono'
import { badRequest } from '../../shared/errors.ts'

/** The request's JSON object body, or a 400 that says what to send. */
export async function readJson (c: Context): Promise<Record<string, unknown>> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw badRequest('bad_json', 'The body must be a JSON object, sent with Content-Type: application/json.')
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('bad_json', 'The body must be a JSON object.')
  return body as Record<string, unknown>
}

/** The request's JSON object body, or {} when it has none. */
export async function readOptionalJson (c: Context): Promise<Record<string, unknown>> {
  return await c.req.text() === '' ? {} : await readJson(c)
}
