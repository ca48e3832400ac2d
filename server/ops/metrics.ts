/**
 * Prometheus metrics (prom-client) on GET /metrics: HTTP traffic by route, bytes in and out by
 * transport, uploads in flight, seeding and tracker counts. Route labels are Hono's route
 * patterns (/api/media/:id), never raw paths, so ids never become label values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SeederStats } from '../../shared/media.ts'

export type Transport = 'tcp' | 'webrtc' | 'webseed' | 'http'

export interface MetricsSources {
  seeder: () => Promise<SeederStats & { uploadedByTransport: Record<'tcp' | 'webrtc', number>, demand: { activated: number, deferred: number } }>
  trackerAnnounces: () => number
  /** Rows whose bytes the blob store does not have. */
  blobsMissing: () => Promise<number>
}

export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  readonly httpDuration: Histogram<'method' | 'route'>
  readonly bytesIngested: Counter
  readonly bytesServed: Counter<'transport'>
  readonly uploadsInFlight: Gauge
  readonly byteResponsesInFlight: Gauge
  /** The work done once for all nodes, each time this node did it (it leads). */
  readonly singletonRuns: Counter<'work'>
  /** OIP items the Arweave indexer read: indexed, known already, or the reason it refused them. */
  readonly arweaveIndexItems: Counter<'outcome'>

  constructor (sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.httpRequests = new Counter({ name: 'oip_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers })
    this.httpDuration = new Histogram({
      name: 'oip_http_request_duration_seconds',
      help: 'Time to the response headers, by route',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    })
    this.bytesIngested = new Counter({ name: 'oip_ingested_bytes_total', help: 'Bytes of uploads stored', registers })
    this.bytesServed = new Counter({ name: 'oip_served_bytes_total', help: 'Bytes of media sent over HTTP (webseed: WebTorrent clients, http: everyone else)', labelNames: ['transport'], registers })
    this.uploadsInFlight = new Gauge({ name: 'oip_uploads_in_flight', help: 'Uploads being received now', registers })
    this.singletonRuns = new Counter({ name: 'oip_singleton_runs_total', help: 'Runs of the work done once for all nodes (sweep: expired uploads and shares; collect: orphaned blobs), on this node while it leads', labelNames: ['work'], registers })
    this.arweaveIndexItems = new Counter({ name: 'oip_arweave_index_items_total', help: 'OIP items the Arweave indexer read on this node: indexed, known (stored already), or the reason it refused them', labelNames: ['outcome'], registers })
    this.byteResponsesInFlight = new Gauge({ name: 'oip_byte_responses_in_flight', help: 'Media byte responses being sent now (each holds two 256 KiB buffers)', registers })
    new Gauge({ name: 'oip_seeding_files', help: 'Files being seeded (public and private torrents)', registers, async collect () { this.set((await sources.seeder()).seedingCount) } })
    new Gauge({ name: 'oip_torrents_active', help: 'Torrents active in the BitTorrent client', registers, async collect () { this.set((await sources.seeder()).activeTorrents) } })
    new Gauge({
      name: 'oip_torrents_idle',
      help: 'Seeded files with no active torrent',
      registers,
      async collect () { const s = await sources.seeder(); this.set(Math.max(0, s.seedingCount - s.activeTorrents)) }
    })
    new Gauge({ name: 'oip_peers', help: 'Connected peers over all torrents', registers, async collect () { this.set((await sources.seeder()).peers) } })
    new Gauge({ name: 'oip_demand_activations', help: 'Idle torrents brought up because someone wanted them (since start)', registers, async collect () { this.set((await sources.seeder()).demand.activated) } })
    new Gauge({ name: 'oip_demand_deferred', help: 'Wanted idle torrents left idle past SEED_ACTIVATIONS_PER_MINUTE (since start)', registers, async collect () { this.set((await sources.seeder()).demand.deferred) } })
    new Gauge({
      name: 'oip_peer_uploaded_bytes',
      help: 'Bytes the seeder sent to BitTorrent peers, by transport (since start)',
      labelNames: ['transport'],
      registers,
      async collect () {
        const { uploadedByTransport } = await sources.seeder()
        for (const [transport, bytes] of Object.entries(uploadedByTransport)) this.set({ transport }, bytes)
      }
    })
    new Gauge({ name: 'oip_blobs_missing', help: 'Stored files whose bytes are missing from the blob store (not served; see the log)', registers, async collect () { this.set(await sources.blobsMissing()) } })
    new Gauge({ name: 'oip_tracker_announces', help: 'Announces the embedded tracker accepted (since start)', registers, collect () { this.set(sources.trackerAnnounces()) } })
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }
}
