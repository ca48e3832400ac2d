/**
 * How long the HTTP server waits for a client, set on purpose rather than left to Node's
 * defaults. Node 20 ends any request that takes 5 minutes in total (`requestTimeout`), which
 * cuts a 10 GiB upload slower than 34 MB/s. Instead no request has a total limit, and one whose
 * body stops coming for `idleMs` is cut: the connection closes, as if the client had gone away
 * (a resumable upload keeps the bytes that arrived; a plain upload stores nothing).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Logger } from '../logger.ts'

/** Headers must be complete this long after a request starts (slowloris); Node's default. */
const HEADERS_TIMEOUT_MS = 60_000
/** An idle connection between requests is closed after this long; Node 20's default. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000

export function limitRequestTimes (server: Server, idleMs: number, log: Logger): void {
  server.requestTimeout = 0
  // Set apart from requestTimeout: left unset, Node would take min(60 s, requestTimeout) = 0.
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  // Inactivity on a connection, reading or writing. With no listener Node closes the connection;
  // that is right before a request's headers are in, and the listener below decides after.
  server.timeout = idleMs
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('timeout', () => {
      // The body is in: the wait is ours (publishing) or the client's reading the answer.
      if (req.complete) return
      // Not reading the body yet, or pushing back while the bytes are written and hashed: the
      // client waits for us. Look again after another idle period.
      if (req.readableFlowing !== true) return void req.socket.setTimeout(idleMs)
      log.info({ method: req.method, path: req.url?.split('?')[0], idleSeconds: idleMs / 1000 }, 'request body stalled: connection closed')
      req.socket.destroy()
    })
  })
}
