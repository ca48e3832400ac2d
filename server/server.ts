/**
 * Wires the parts together and listens: blob store, records, seeder, tracker, HTTP, all on one
 * port. Used by main.ts and by the tests, which start real servers on loopback.
 */
import { randomUUID } from 'node:crypto'
import fs from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { serve } from '@hono/node-server'
import { decodeJwt } from 'jose'
import { AccessPolicy } from './access/accessPolicy.ts'
import { ClientAddresses } from './access/clientAddress.ts'
import { createApp } from './app.ts'
import { AuthService } from './auth/authService.ts'
import { Capabilities, SEEDER_SUBJECT } from './auth/capabilities.ts'
import { DatabaseChallengeStore } from './auth/challengeStore.ts'
import { derivedKey, loadMetricsToken, loadTokenSecret } from './auth/secret.ts'
import { joinCluster } from './cluster/cluster.ts'
import type { ClusterMessage } from './cluster/clusterChannel.ts'
import { TrackerDoor } from './cluster/trackerDoor.ts'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'
import { Catalog } from './media/catalog.ts'
import { MediaService } from './media/mediaService.ts'
import { PublicCopies } from './media/publicCopies.ts'
import { Quotas } from './media/quotas.ts'
import { sweepExpiredShares } from './media/shares.ts'
import { openDatabase } from './db/database.ts'
import type { AdmissionChange } from './access/accessPolicy.ts'
import { catalogRepositories } from './catalog/catalogRepositories.ts'
import { RECONCILE_ALL } from './db/migrations.ts'
import { SeederJsonMark } from './catalog/seederJsonMark.ts'
import { importMediaDir } from './catalog/importMediaDir.ts'
import { UploadRepository } from './catalog/uploadRepository.ts'
import { seedSource } from './media/seedSource.ts'
import { OipRecordService, type UploadFacts } from './records/oipRecordService.ts'
import { ArweaveGateway } from './publishing/arweaveGateway.ts'
import { ArweavePublications } from './publishing/arweavePublications.ts'
import { ArweavePublisher, DEFAULT_TIMINGS, type PublisherTimings } from './publishing/arweavePublisher.ts'
import { ArweavePublishing } from './publishing/arweavePublishing.ts'
import { loadArweaveWallet } from './publishing/arweaveWallet.ts'
import { OipIndexCursor } from './records/oipIndexCursor.ts'
import { OipIndexer } from './records/oipIndexer.ts'
import { OipIndexGateway } from './records/oipIndexGateway.ts'
import { GunPublications } from './publishing/gunPublications.ts'
import { DEFAULT_GUN_TIMINGS, GunPublisher, type GunTimings } from './publishing/gunPublisher.ts'
import { GunPublishing } from './publishing/gunPublishing.ts'
import { GunRelays } from './publishing/gunRelays.ts'
import { ResponseSlots } from './routes/responseSlots.ts'
import { MediaSeeder } from './seeder/mediaSeeder.ts'
import type { SeedChange } from './seeder/seedPlacement.ts'
import type { BlobStore } from './storage/blobStore.ts'
import { FsBlobStore } from './storage/fsBlobStore.ts'
import { FsUploadStore } from './storage/fsUploadStore.ts'
import type { UploadStore } from './storage/uploadStore.ts'
import { EmbeddedTracker } from './tracker/embeddedTracker.ts'
import { HashPool } from './upload/hashPool.ts'
import { ResumableUploads } from './upload/resumable.ts'
import { diskSpace, UploadGate } from './upload/uploadGate.ts'
import { Metrics } from './ops/metrics.ts'
import { readiness } from './ops/readiness.ts'
import { StatsHistory } from './ops/statsHistory.ts'
import { limitRequestTimes } from './ops/requestTimeouts.ts'

/** How long the capabilities in a private file's .torrent (web seed and tracker URLs) stay valid. */
const CAPABILITY_TTL_SECONDS = 6 * 3600
/** How long the seeder's own tracker capability for a private torrent lasts; renewed at half-life. */
const SEEDER_TOKEN_TTL_SECONDS = 3600

export interface RunningServer {
  url: string
  /** The bearer token /metrics asks for. */
  metricsToken: string
  config: Config
  seeder: MediaSeeder
  store: BlobStore
  /** The node:http server (its timeouts are set by limitRequestTimes). */
  http: Server
  close (): Promise<void>
}

export interface StartOptions {
  log: Logger
  /** Swap the blob store (tests inject faults through this). */
  store?: BlobStore
  /** Swap the resumable upload store (tests inject faults through this). */
  uploadStore?: UploadStore
  /** The seeder's tracker capability lifetime (tests shorten it to see it renewed). */
  seederTokenTtlSeconds?: number
  /** The Arweave publisher's retry and loss timings (tests shorten them to see retries). */
  arweaveTimings?: Partial<Omit<PublisherTimings, 'pollMs'>>
  /** The GUN publisher's retry and relay timeouts (tests shorten them). */
  gunTimings?: Partial<Omit<GunTimings, 'pollMs'>>
}

/**
 * Nodes sharing a PostgreSQL catalogue may share MEDIA_DIR too: each stages uploads under its own
 * name (NODE_URL, unique among live nodes), so a start never touches another's upload in flight.
 * On PostgreSQL without NODE_URL, nodes behind one proxy share PUBLIC_URL: a name of this start
 * alone then (its own leftovers wait for the grace, as other nodes' do).
 */
export function stagingName (config: Pick<Config, 'nodeUrl' | 'databaseUrl' | 'publicUrl'>): string {
  return config.nodeUrl ?? (config.databaseUrl !== undefined ? `unnamed-${randomUUID()}` : config.publicUrl)
}

/** The blob store BLOB_STORE names; the object store's code (and the AWS SDK) loads only when chosen. */
async function blobStoreFor (config: Config): Promise<BlobStore> {
  if (config.blobStore.kind === 'fs') return new FsBlobStore(config.mediaDir, { node: stagingName(config), stagingGraceMs: config.orphanGraceMs })
  const { S3BlobStore } = await import('./storage/s3BlobStore.ts')
  return new S3BlobStore(config.blobStore, { maxUploadBytes: config.maxUploadBytes, stagingGraceMs: config.orphanGraceMs })
}

function listen (config: Config, log: Logger, fetch: Parameters<typeof serve>[0]['fetch']): Promise<Server> {
  return new Promise((resolve, reject) => {
    // serve() makes a node:http server unless told to make an HTTP/2 one. It listens at once, but
    // no connection comes in before this tick ends, so the timeouts below apply to every one.
    const server = serve({ fetch, hostname: config.host, port: config.port }, () => resolve(server)) as Server
    limitRequestTimes(server, config.requestIdleTimeoutMs, log)
    server.once('error', reject)
  })
}

export async function startServer (config: Config, opts: StartOptions): Promise<RunningServer> {
  const { log } = opts
  const store = opts.store ?? await blobStoreFor(config)
  // seeder.json lives there whatever the store, and the dashboard measures its disk.
  await fs.mkdir(config.mediaDir, { recursive: true })
  const { sweptIncoming, directIo } = await store.init()
  if (sweptIncoming > 0) log.warn({ sweptIncoming }, 'removed uploads left unfinished by the last run')
  if (directIo === false) log.info({ mediaDir: config.mediaDir }, 'this filesystem does not take direct I/O: uploads are written through the page cache (more CPU per upload)')

  const database = await openDatabase({
    url: config.databaseUrl,
    sqliteFile: path.join(config.dataDir, 'db.sqlite'),
    poolSize: config.databasePoolSize,
    onConnectionError: err => log.error({ err: err.message }, 'a connection to PostgreSQL broke; queries open new ones (/readyz says whether they can)')
  })
  const { db, dialect } = database
  await importMediaDir({ database, store, mediaDir: config.mediaDir, freshDatabase: database.fresh, log })
  const repositories = catalogRepositories(db, dialect)
  const { records, blobs, seeds, shares } = repositories
  // Public records to Arweave, when ARWEAVE_URL names a gateway: the wallet that pays is loaded
  // (or made) only then.
  const arweavePublications = new ArweavePublications(db)
  let publisher: ArweavePublisher | undefined
  if (config.arweaveUrl !== undefined) {
    const wallet = await loadArweaveWallet(config.dataDir, config.arweaveWalletFile)
    publisher = new ArweavePublisher({
      publications: arweavePublications,
      gateway: new ArweaveGateway(config.arweaveUrl, wallet, config.arweaveMaxReward),
      timings: { ...DEFAULT_TIMINGS, ...opts.arweaveTimings, pollMs: config.arweavePollMs },
      log
    })
    log.info({ gateway: config.arweaveUrl, wallet: wallet.address }, 'publishing public records to Arweave: the bundles are paid from this wallet')
  }
  // ARWEAVE_URL as the indexer and Verify read it: every answer bounded, redirects kept to its host.
  const arweaveReader = config.arweaveUrl !== undefined ? new OipIndexGateway(config.arweaveUrl, { pageSize: 100, timeoutMs: 30_000 }) : undefined
  const arweave = new ArweavePublishing({ publications: arweavePublications, records: repositories.oipRecords, enabled: publisher !== undefined, kick: () => publisher?.kick(), log, ...(arweaveReader ? { gateway: arweaveReader } : {}) })
  // Private records' sealed nodes to GUN, when GUN_PEERS names relays.
  const gunPublications = new GunPublications(db)
  let gunPublisher: GunPublisher | undefined
  let gunRelays: GunRelays | undefined
  if (config.gunPeers.length > 0) {
    const timings = { ...DEFAULT_GUN_TIMINGS, ...opts.gunTimings, pollMs: config.gunPollMs }
    gunRelays = new GunRelays(config.gunPeers, timings.relayTimeoutMs, log)
    gunPublisher = new GunPublisher({ publications: gunPublications, relays: gunRelays, timings, log })
    log.info({ peers: config.gunPeers }, 'publishing private records, sealed by their owners, to GUN')
  }
  const gun = new GunPublishing({ publications: gunPublications, records: repositories.oipRecords, relays: gunRelays, kick: () => gunPublisher?.kick() })
  const oipRecords = new OipRecordService({
    publications: async (recordIds, caller) => new Map([...await arweave.ofRecords(recordIds), ...await gun.ofRecords(recordIds, caller)]),
    records: repositories.oipRecords,
    // The caller's own upload as they see it (their private view, or the public one), with the
    // type they uploaded it as: the public face may carry an earlier uploader's type.
    upload: async (mediaId, owner): Promise<UploadFacts | undefined> => {
      const { own } = await access.require(owner, 'own', mediaId).catch(() => ({ own: undefined }))
      return own && { ...await media.info(mediaId, owner), mimeType: own.mimeType }
    }
  })

  // The HTTP server (and so the tracker) must be up before the seeder announces, and the
  // public URL is known only once the port is (PORT=0 picks one).
  let app: ReturnType<typeof createApp> | undefined
  const http = await listen(config, log, (req, env) => app ? app.fetch(req, env) : new Response('starting', { status: 503 }))
  const port = (http.address() as AddressInfo).port
  const publicUrl = config.publicUrl.endsWith(':0') ? config.publicUrl.replace(/:0$/, `:${port}`) : config.publicUrl
  const resolved: Config = { ...config, port, publicUrl }

  const secret = await loadTokenSecret(config.dataDir, config.jwtSecret)
  // Tells the tracker the seeders' own announces from anyone else's: the same on every node
  // sharing the secret, since one node's tracker hears every node's seeder.
  const seederKey = derivedKey(secret, 'seeder-key')
  const publicCopies = store.publicObjects && new PublicCopies(store.publicObjects, blobs, log)
  const catalog = new Catalog({ store, blobs, publicUrl, extraTrackers: config.extraTrackers, cdnUrls: config.cdnUrls, seederKey, publicCopies })
  // Nodes sharing a PostgreSQL catalogue: one leads (the tracker, the work done once), torrents
  // are spread, announces forwarded with the client's address under this key.
  const clusterKey = derivedKey(secret, 'cluster-key')
  const cluster = await joinCluster({ database, url: config.databaseUrl, nodeUrl: config.nodeUrl ?? publicUrl, timeoutMs: config.clusterNodeTimeoutMs, clusterKey, log })
  const { leadership } = cluster
  const isSeederPeer = (peerId: string): boolean => peerId === seeder.peerId || cluster.isOtherSeeder(peerId)
  const metricsToken = await loadMetricsToken(config.dataDir, config.metricsToken)
  const origin = new URL(publicUrl).origin
  const capabilities = new Capabilities(origin, secret, CAPABILITY_TTL_SECONDS)
  const access: AccessPolicy = new AccessPolicy({
    records,
    blobs,
    shares,
    capabilities,
    adminKeys: config.adminKeys,
    isSeederPeer,
    tellNodes: change => cluster.send('admission', change),
    leads: () => leadership.leads,
    // Out of the tracker's swarm (no peer is told of them again) and off the seeder's wires.
    peersLeft: async (infoHash, peerIds) => {
      tracker.removePeers(infoHash, peerIds)
      await seeder.closeUnadmitted(infoHash)
    },
    onError: err => log.error({ err: err.message }, 'could not close the connections of peers whose swarm admission ended')
  })
  const seeder: MediaSeeder = new MediaSeeder({
    catalog,
    seeds,
    source: seedSource({
      catalog,
      records,
      access,
      seederTrackerToken: async infoHash => {
        const ttl = opts.seederTokenTtlSeconds ?? SEEDER_TOKEN_TTL_SECONDS
        const token = await capabilities.issue('tracker', { sub: SEEDER_SUBJECT, infoHash }, ttl)
        return { token, expiresAt: decodeJwt(token).exp! * 1000 }
      }
    }),
    stateFile: path.join(config.mediaDir, 'seeder.json'),
    stateFileMark: new SeederJsonMark(db),
    torrentPort: config.torrentPort,
    host: config.host,
    enabled: config.seeding,
    limits: {
      ...(config.seedUploadLimit !== undefined ? { upload: config.seedUploadLimit } : {}),
      ...(config.seedDownloadLimit !== undefined ? { download: config.seedDownloadLimit } : {})
    },
    maxActive: config.seedMaxActive,
    activationsPerMinute: config.seedActivationsPerMinute,
    placement: cluster.placement,
    ...(cluster.shared ? { writesSnapshot: () => leadership.leads } : {}),
    log
  })
  const tracker = new EmbeddedTracker({
    log,
    seederKey,
    isSeederPeer,
    allow: async announce => {
      const { infoHash, peerId, event } = announce
      if (!await access.admitAnnounce(announce)) return false
      // Another peer in the swarm wants the file (the seeders' own announces do not count, nor
      // a peer leaving). Not awaited: the peer joins the swarm first, then the torrent comes up
      // and offers to it (see MediaSeeder.want).
      if ((peerId === undefined || !isSeederPeer(peerId)) && event !== 'stopped') void seeder.want(infoHash, { announced: true })
      return true
    }
  })
  const clientAddresses = new ClientAddresses(config.trustProxy, cluster.shared ? clusterKey : undefined)
  const trackerDoor = new TrackerDoor({ tracker, leadership, forwarding: cluster.forwarding, fromNode: req => clientAddresses.fromNode(req) })
  http.on('upgrade', (req, socket, head) => {
    if (!trackerDoor.handleUpgrade(req, socket, head, clientAddresses.of(req))) socket.destroy()
  })
  // What the other nodes tell: about torrents this node seeds, and the tracker's admissions.
  const failed = (what: string) => (err: Error) => log.warn({ err: err.message }, `could not act on ${what} another node told`)
  cluster.on('seed', (m: ClusterMessage) => { seeder.fromNode(m.body as SeedChange).catch(failed('a seeding change')) })
  cluster.on('admission', (m: ClusterMessage) => { access.fromNode(m.body as AdmissionChange, m.fromLeader).catch(failed('a swarm admission')) })
  cluster.onReset(() => { access.forgetAdmissions().catch(failed('missed messages')) })
  // The tracker moved: the torrents seeded here join its swarms now, and once more a moment
  // later for a node that learnt of the new leader after this one did (its forward failed).
  cluster.onLeaderChange(() => {
    seeder.reannounce()
    setTimeout(() => seeder.reannounce(), config.clusterNodeTimeoutMs / 2).unref()
  })
  let rebalancing: Promise<void> = Promise.resolve()
  cluster.onRebalance(() => {
    rebalancing = rebalancing.then(async () => await seeder.rebalance()).catch(failed('a change of the live nodes'))
  })
  // One hashing worker per spare core; uploads beyond that hash on the main thread.
  const hashPool = new HashPool(Math.max(1, availableParallelism() - 1))
  await hashPool.warm()
  const metrics = new Metrics({
    seeder: async () => ({ ...await seeder.getStats(), uploadedByTransport: seeder.uploadedByTransport, demand: seeder.demand }),
    trackerAnnounces: () => tracker.announces,
    blobsMissing: async () => await blobs.missingCount()
  })
  // Files and tus uploads in a bucket take no room on the local disk: its low-water mark stops no upload then.
  const lowWaterBytes = config.blobStore.kind === 'fs' ? config.diskLowWaterBytes : undefined
  const uploadGate = new UploadGate({
    maxConcurrent: config.maxConcurrentUploads,
    lowWaterBytes,
    mediaDir: config.mediaDir,
    onChange: n => metrics.uploadsInFlight.set(n)
  })
  const media = new MediaService({
    catalog,
    records,
    shares,
    thumbnails: repositories.thumbnails,
    access,
    seeder,
    hashPool,
    maxUploadBytes: config.maxUploadBytes,
    allowAnonymousUploads: config.allowAnonymousUploads,
    capabilities,
    blobs,
    journal: repositories.journal,
    orphanGraceMs: config.orphanGraceMs,
    transaction: async fn => await database.transaction(async tx => await fn(catalogRepositories(tx, dialect))),
    uploadGate,
    quotas: new Quotas({ bytesPerKey: config.quotaBytesPerKey, filesPerKey: config.quotaFilesPerKey, pinsPerKey: config.pinsPerKey, adminKeys: config.adminKeys }),
    metrics,
    publications: async (owner, mediaIds) => new Map([...await arweave.ofOwnerMedia(owner, mediaIds), ...await gun.ofOwnerMedia(owner, mediaIds)]),
    log
  })
  const uploads = new ResumableUploads({
    store: opts.uploadStore ?? store.uploadStore?.() ?? new FsUploadStore(config.mediaDir),
    uploads: new UploadRepository(db, dialect),
    blobs: store,
    hashPool,
    gate: uploadGate,
    maxUploadBytes: config.maxUploadBytes,
    expiryMs: config.uploadExpiryMs,
    complete: (staged, owner) => media.completeUpload(staged, owner),
    admit: (owner, bytes, pending) => media.admitUpload(owner, bytes, pending),
    log
  })
  await uploads.init()
  // The leader sweeps expired uploads a few times per expiry period (at least every 15
  // minutes), expired shares and long-dead nodes with them.
  const sweeper = setInterval(() => {
    if (!leadership.leads) return
    metrics.singletonRuns.inc({ work: 'sweep' })
    uploads.sweep().catch(err => log.warn({ err: (err as Error).message }, 'sweeping expired uploads failed'))
    sweepExpiredShares(shares).catch(err => log.warn({ err: (err as Error).message }, 'sweeping expired shares failed'))
    cluster.forgetDead().catch(err => log.warn({ err: (err as Error).message }, 'forgetting dead nodes failed'))
  }, Math.min(config.uploadExpiryMs / 4, 15 * 60_000))
  sweeper.unref()
  const history = new StatsHistory({
    intervalMs: config.historySampleMs,
    totals: scope => seeder.liveTotals(scope),
    disk: async () => await diskSpace(config.mediaDir),
    lowWaterBytes,
    log
  })
  const auth = new AuthService({ origin, secret, challenges: new DatabaseChallengeStore(db), tokenTtlSeconds: config.tokenTtlSeconds })
  let seederReady = false
  app = createApp({
    auth,
    media,
    uploads,
    maxUploadBytes: config.maxUploadBytes,
    oipRecords,
    arweave,
    gun,
    network: { arweave: { publishing: arweave.enabled }, gun: { publishing: gun.enabled } },
    store,
    seeder,
    tracker: trackerDoor,
    metrics,
    history,
    access,
    clientAddresses,
    metricsToken,
    sending: {
      slots: new ResponseSlots({ max: config.maxByteResponses, perAddress: config.maxByteResponsesPerAddress, onChange: n => metrics.byteResponsesInFlight.set(n) }),
      timeoutMs: config.sendTimeoutMs
    },
    challengesPerMinute: config.challengesPerMinute,
    uploadStartsPerMinute: config.uploadStartsPerMinute,
    verifyReadsPerMinute: config.verifyReadsPerMinute,
    readiness: () => readiness({
      pingDatabase: database.ping,
      checkBlobStore: () => store.check(),
      mediaDir: config.mediaDir,
      lowWaterBytes,
      seederReady: () => seederReady,
      trackerReady: () => leadership.leads ? tracker.open : cluster.leaderUrl() !== undefined,
      node: () => ({ id: cluster.nodeId, leads: leadership.leads })
    }),
    webDir: config.webDir,
    // The bucket's public copies are a mirror the browser fetches web-seed ranges from.
    webPolicy: { publicUrl, extraTrackers: config.extraTrackers, cdnUrls: [...config.cdnUrls, ...(config.blobStore.kind === 's3' && config.blobStore.publicUrl ? [config.blobStore.publicUrl] : [])] },
    log
  })
  seederReady = await seeder.initialize()
  await cluster.setSeederPeerId(seeder.peerId)
  await history.start()
  // The blob store and the database are made to agree in the background (what a crash left
  // between the two, as the journal notes it): now, and again a few times per grace period. The
  // whole of both once after the upgrade that brought the journal, or when RECONCILE_ALL asks.
  const stopCollecting = new AbortController()
  let collecting: Promise<unknown> = Promise.resolve()
  const collectOrphans = (all = false): void => {
    if (!leadership.leads) return
    metrics.singletonRuns.inc({ work: 'collect' })
    collecting = collecting.then(async () => {
      const staged = await store.collectStaging?.(config.orphanGraceMs) ?? 0
      if (staged > 0) log.warn({ staged }, 'removed uploads left unfinished (by a crash) in the blob store\'s staging area')
      await publicCopies?.reconcile()
      const { collected, missing } = await media.reconcile(config.orphanGraceMs, { all, signal: stopCollecting.signal })
      if (all && !stopCollecting.signal.aborted) {
        await repositories.meta.clear(RECONCILE_ALL)
        log.info({ collected, foundMissing: missing }, 'compared every folder in MEDIA_DIR with the database')
      }
    }).catch(err => log.warn({ err: (err as Error).message }, 'reconciling the blob store with the database failed'))
  }
  const reconcileAll = config.reconcileAll || await repositories.meta.has(RECONCILE_ALL)
  // A database restored from a backup may be behind seeder.json: it is written again from the database.
  if (reconcileAll) seeder.snapshot.changed()
  collectOrphans(reconcileAll)
  const collector = setInterval(collectOrphans, Math.min(config.orphanGraceMs / 2, 15 * 60_000))
  collector.unref()
  // Leading from now on: collect at once (the old leader may have died mid-way); no longer
  // leading: the tracker's swarms go, and their peers reconnect to the one that leads now.
  leadership.onChange(leads => {
    if (!leads) return tracker.dropAll()
    repositories.meta.has(RECONCILE_ALL).then(collectOrphans, err => log.warn({ err: (err as Error).message }, 'could not read whether to reconcile every folder'))
  })
  // Carries on with whatever a previous run left queued or posted.
  publisher?.start()
  // Others' OIP records on the gateway, read by the node that leads from where the last one got to.
  const indexer = config.arweaveUrl !== undefined && arweaveReader !== undefined && config.arweaveIndex
    ? new OipIndexer({
      gateway: arweaveReader,
      cursor: new OipIndexCursor(db, config.arweaveUrl),
      records: repositories.oipRecords,
      pollMs: config.arweavePollMs,
      leads: () => leadership.leads,
      onItem: outcome => metrics.arweaveIndexItems.inc({ outcome }),
      log
    })
    : undefined
  indexer?.start()
  gunPublisher?.start()
  // Ready (and serving) already; callers of startServer get a seeder with its torrents up.
  await seeder.whenResumed()

  return {
    url: publicUrl,
    metricsToken,
    config: resolved,
    seeder,
    store,
    http,
    async close () {
      // Uploads in flight may finish (new ones get 503). Then no new connections; idle ones
      // close now, the tracker's upgraded sockets with the tracker, and responses still being
      // written get a moment before whatever is left is cut.
      await uploadGate.drain(config.shutdownGraceMs)
      clearInterval(sweeper)
      clearInterval(collector)
      history.stop()
      stopCollecting.abort()
      await collecting
      await publisher?.close()
      await indexer?.close()
      await gunPublisher?.close()
      const closed = new Promise<void>(resolve => http.close(() => resolve()))
      http.closeIdleConnections()
      await seeder.close()
      await tracker.close()
      await cluster.close()
      await Promise.race([closed, new Promise(resolve => setTimeout(resolve, 2000).unref())])
      http.closeAllConnections()
      await closed
      uploads.close()
      await hashPool.close()
      await publicCopies?.close()
      await database.close()
      await store.close?.()
    }
  }
}
