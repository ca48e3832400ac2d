/** The Hono app: routes and error mapping, no listening (main.ts does that). */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import type { HttpBindings } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { Hono } from 'hono'
import { AppError } from '../shared/errors.ts'
import type { Caller } from './access/accessPolicy.ts'
import type { AccessPolicy } from './access/accessPolicy.ts'
import type { ClientAddresses } from './access/clientAddress.ts'
import type { AuthService } from './auth/authService.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './ops/metrics.ts'
import type { StatsHistory } from './ops/statsHistory.ts'
import type { Readiness } from './ops/readiness.ts'
import type { MediaService } from './media/mediaService.ts'
import type { NetworkInfo } from '../shared/publication.ts'
import type { ArweavePublishing } from './publishing/arweavePublishing.ts'
import type { GunPublishing } from './publishing/gunPublishing.ts'
import { arweaveRoutes } from './routes/arweave.ts'
import { gunNodeRoutes, gunRecordRoutes } from './routes/gun.ts'
import { authRoutes } from './routes/auth.ts'
import type { SendLimits } from './routes/bytes.ts'
import { mediaRoutes } from './routes/media.ts'
import { meRoutes } from './routes/me.ts'
import { networkRoutes } from './routes/network.ts'
import { perAddressLimit } from './routes/rateLimit.ts'
import { recordRoutes } from './routes/records.ts'
import { seederRoutes } from './routes/seeder.ts'
import { uploadRoutes } from './routes/uploads.ts'
import { webAppRoutes, type WebAppPolicy } from './routes/webApp.ts'
import type { OipRecordService } from './records/oipRecordService.ts'
import type { MediaSeeder } from './seeder/mediaSeeder.ts'
import type { BlobStore } from './storage/blobStore.ts'
import type { TrackerDoor } from './cluster/trackerDoor.ts'
import { ANNOUNCE_PATH } from './tracker/embeddedTracker.ts'
import type { ResumableUploads } from './upload/resumable.ts'

/**
 * On Node the raw request/response are in c.env (empty under app.request()); `caller` is the
 * signed-in public key, if any; `requestId` names the request in logs and in X-Request-Id;
 * `clientAddress` is where it came from (ClientAddresses), what per-address limits key on.
 */
export type AppEnv = { Bindings: Partial<HttpBindings>, Variables: { caller: Caller, requestId: string, clientAddress: string } }

/** The token of an `Authorization: Bearer <token>` header. */
const bearerToken = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1]

/** Compared in constant time (hashed first, so lengths do not show either). */
const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())

export interface AppDeps {
  auth: AuthService
  media: MediaService
  uploads: ResumableUploads
  maxUploadBytes: number
  oipRecords: OipRecordService
  /** Public records' data items to Arweave. */
  arweave: ArweavePublishing
  /** Private records' sealed nodes to GUN. */
  gun: GunPublishing
  /** What GET /api/network answers. */
  network: NetworkInfo
  store: BlobStore
  seeder: MediaSeeder
  /** The tracker: this node's own, or the leader's through it. */
  tracker: TrackerDoor
  metrics: Metrics
  /** The seeder's last hour, for the dashboard. */
  history: StatsHistory
  /** Decides every door (and who is an admin). */
  access: AccessPolicy
  /** Tells a request's client address (behind a trusted proxy, the one it forwarded). */
  clientAddresses: ClientAddresses
  /** The bearer token /metrics asks for (the counts cover private files too). */
  metricsToken: string
  /** Bounds on byte responses (slots, send timeout). */
  sending: SendLimits
  /** Per client address and minute. */
  challengesPerMinute: number
  uploadStartsPerMinute: number
  verifyReadsPerMinute: number
  readiness: () => Promise<Readiness>
  webDir: string
  /** What the web app's pages may connect to (its Content-Security-Policy). */
  webPolicy: WebAppPolicy
  log: Logger
}

export function createApp (deps: AppDeps): Hono<AppEnv> {
  const { log } = deps
  const app = new Hono<AppEnv>()

  // Request ids for logs and clients, and HTTP metrics labelled by route pattern (never raw paths).
  app.use('*', async (c, next) => {
    const started = performance.now()
    const given = c.req.header('x-request-id')
    const requestId = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID()
    c.set('requestId', requestId)
    c.set('clientAddress', c.env?.incoming ? deps.clientAddresses.of(c.env.incoming) : 'unknown')
    c.header('X-Request-Id', requestId)
    await next()
    const route = c.req.routePath || 'unmatched'
    const seconds = (performance.now() - started) / 1000
    // A route that wrote its response itself (media bytes, the tracker) answers RESPONSE_ALREADY_SENT: the status is the one sent.
    const { outgoing } = c.env
    const status = outgoing?.headersSent === true ? outgoing.statusCode : c.res.status
    deps.metrics.httpRequests.inc({ method: c.req.method, route, status: String(status) })
    deps.metrics.httpDuration.observe({ method: c.req.method, route }, seconds)
    log.debug({ requestId, method: c.req.method, route, status, ms: Math.round(seconds * 1000) }, 'request')
  })

  app.onError((err, c) => {
    if (err instanceof AppError) {
      const retryAfter = (err as AppError & { retryAfter?: number }).retryAfter
      if (retryAfter !== undefined) c.header('Retry-After', String(retryAfter))
      return c.json({ error: { code: err.code, message: err.message } }, err.status as 400)
    }
    const requestId = randomUUID()
    // The route pattern, not the path: a private web seed's path is its capability.
    log.error({ requestId, method: c.req.method, route: c.req.routePath, err: err.message, stack: err.stack }, 'unhandled error')
    return c.json({ error: { code: 'internal', message: `Something went wrong on the server. Try again; if it keeps failing, give the operator this id: ${requestId}.` } }, 500)
  })

  app.get('/healthz', c => c.json({ ok: true }))
  app.get('/readyz', async c => {
    const state = await deps.readiness()
    return c.json(state, state.ready ? 200 : 503)
  })
  // Operators' counts, private files included: only for the scraper holding the metrics token.
  app.get('/metrics', async c => {
    const given = bearerToken(c.req.header('authorization'))
    if (given === undefined || !sameSecret(given, deps.metricsToken)) {
      throw new AppError(401, 'metrics_token_required', 'Metrics are for the operator: send "Authorization: Bearer <token>" with the token in DATA_DIR/metrics-token (or METRICS_TOKEN).')
    }
    return c.body(await deps.metrics.text(), 200, { 'Content-Type': deps.metrics.contentType, 'Cache-Control': 'private, no-store' })
  })

  // API answers may carry a caller's private view, capabilities or live state: no cache keeps
  // them unless the route itself says they are public (public bytes and .torrents do).
  app.use('/api/*', async (c, next) => {
    await next()
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'private, no-store')
  })

  // Who is calling: a valid bearer token names a key; a bad one is refused, never ignored.
  app.use('/api/*', async (c, next) => {
    const header = c.req.header('authorization')
    if (header !== undefined) {
      const token = bearerToken(header)
      if (!token) throw new AppError(401, 'bad_token', 'Send the session token as "Authorization: Bearer <token>".')
      c.set('caller', await deps.auth.authenticate(token))
    }
    await next()
  })

  // One budget for both ways to start an upload.
  const uploadStarts = perAddressLimit({ perMinute: deps.uploadStartsPerMinute, what: 'uploads started', setting: 'UPLOAD_STARTS_PER_MINUTE' })
  app.route('/api/auth', authRoutes(deps.auth, perAddressLimit({ perMinute: deps.challengesPerMinute, what: 'sign-in challenges', setting: 'CHALLENGES_PER_MINUTE' })))
  app.route('/api/media', mediaRoutes(deps.media, deps.store, deps.metrics, deps.sending, uploadStarts))
  app.route('/api/me', meRoutes(deps.media))
  app.route('/api/uploads', uploadRoutes(deps.uploads, deps.maxUploadBytes, uploadStarts))
  // Verify's reads wait on a relay or the gateway: limited per client address.
  const verifyReads = perAddressLimit({ perMinute: deps.verifyReadsPerMinute, what: 'records read back from the OIP network', setting: 'VERIFY_READS_PER_MINUTE' })
  app.route('/api/records', arweaveRoutes(deps.arweave, verifyReads))
  app.route('/api/records', gunRecordRoutes(deps.gun))
  app.route('/api/gun', gunNodeRoutes(deps.gun, verifyReads))
  app.route('/api/records', recordRoutes(deps.oipRecords))
  app.route('/api/network', networkRoutes(deps.network))
  app.route('/api/seeder', seederRoutes(deps.seeder, deps.access, deps.media, deps.history))
  app.all('/api/*', c => c.json({ error: { code: 'not_found', message: `No API route ${c.req.method} ${c.req.path}. See the README for the HTTP API.` } }, 404))

  app.get(ANNOUNCE_PATH, c => {
    const { incoming, outgoing } = c.env
    if (!incoming || !outgoing) return c.json({ error: { code: 'not_supported', message: 'The tracker needs a real HTTP server.' } }, 501)
    deps.tracker.handleHttp(incoming, outgoing, c.get('clientAddress'))
    return RESPONSE_ALREADY_SENT
  })

  app.route('/', webAppRoutes(deps.webDir, deps.webPolicy))
  return app
}
