/**
 * The address a request came from, as the socket sees it: behind a proxy that is the proxy's
 * (X-Forwarded-For is not trusted). Per-address limits key on it.
 */
import type { Context } from 'hono'
import type { AppEnv } from '../app.ts'

export const clientAddress = (c: Context<AppEnv>): string => c.env?.incoming?.socket.remoteAddress ?? 'unknown'
