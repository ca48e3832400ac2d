/** Structured JSON logs. Tokens and secrets are redacted wherever they would appear. */
import { pino, type Logger } from 'pino'

export type { Logger }

export const createLogger = (level: string): Logger => pino({
  level,
  redact: ['req.headers.authorization', 'req.headers.cookie', '*.token', 'token', '*.secret']
})

/** For tests and tools: a logger that writes nothing. */
export const silentLogger = (): Logger => pino({ level: 'silent' })
