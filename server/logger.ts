/** Structured JSON logs. Tokens and secrets are redacted wherever they would appear. */
import type { DestinationStream } from 'pino'
import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * Capabilities travel in URLs (a private web seed's path, a tracker's ?token=, the seeder's own
 * ?seeder= key at its tracker), and URLs end up in error messages: every string logged is
 * scrubbed of them, whatever field it is in.
 */
const CAPABILITY_IN_TEXT = /(\/seed\/|[?&](?:token|seeder)=)[^\s/?&#"')]+/g
export const scrubCapabilities = (text: string): string => text.replace(CAPABILITY_IN_TEXT, '$1[redacted]')

function scrub (value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubCapabilities(value)
  if (depth > 3 || value === null || typeof value !== 'object') return value
  if (value instanceof Error) return { type: value.name, message: scrubCapabilities(value.message), stack: value.stack && scrubCapabilities(value.stack) }
  if (Array.isArray(value)) return value.map(v => scrub(v, depth + 1))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, depth + 1)]))
}

export const createLogger = (level: string, destination?: DestinationStream): Logger => pino({
  level,
  redact: ['req.headers.authorization', 'req.headers.cookie', '*.token', 'token', '*.secret'],
  formatters: { log: object => scrub(object) as Record<string, unknown> },
  hooks: {
    // Messages are fixed strings in our code, but a library's message may carry a URL.
    logMethod (args, method) {
      method.apply(this, args.map(a => typeof a === 'string' ? scrubCapabilities(a) : a) as Parameters<typeof method>)
    }
  }
}, destination)

/** For tests and tools: a logger that writes nothing. */
export const silentLogger = (): Logger => pino({ level: 'silent' })
