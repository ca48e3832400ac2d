/**
 * What the dashboard shows, polled from the server: the seeding totals, the last hour's samples
 * and the bytes each file sent. With the wallet unlocked it asks with the session, so an admin
 * sees private torrents counted and an owner their own private files; else as anyone.
 */
import type { SeederHistory, SeederStats, ServedFile } from '../../shared/media.ts'
import { getJson } from './api.ts'
import type { Session } from './session.svelte.ts'

export interface DashboardStats extends SeederStats {
  limits: { upload?: number, download?: number }
  trackers: Array<{ url: string, connected?: boolean, announces: number, lastAnnounceAt?: string, lastError?: string }>
  topFiles: Array<{ mediaId: string, name: string, uploaded: number, peers: number }>
}

/** Totals and files are asked this often; the history once per sample it takes. */
const POLL_MS = 2000
/** Files listed, most bytes first. */
const FILES_SHOWN = 20

export class DashboardData {
  stats = $state<DashboardStats | undefined>()
  history = $state<SeederHistory | undefined>()
  served = $state<{ since: string, files: ServedFile[] } | undefined>()
  error = $state<string | undefined>()
  private readonly session: Session
  private historyAt = 0

  constructor (session: Session) {
    this.session = session
  }

  /** Poll until the function returned is called. */
  start (): () => void {
    void this.refresh()
    const timer = setInterval(() => { void this.refresh() }, POLL_MS)
    return () => clearInterval(timer)
  }

  private async refresh (): Promise<void> {
    try {
      const historyDue = this.history === undefined || Date.now() - this.historyAt >= this.history.intervalMs
      const [stats, served, history] = await Promise.all([
        this.get<DashboardStats>('/api/seeder/stats'),
        this.get<{ since: string, files: ServedFile[] }>(`/api/seeder/files?limit=${FILES_SHOWN}`),
        historyDue ? this.get<SeederHistory>('/api/seeder/history') : undefined
      ])
      this.stats = stats
      this.served = served
      if (history) {
        this.history = history
        this.historyAt = Date.now()
      }
      this.error = undefined
    } catch (err) {
      this.error = `Cannot reach the server: ${(err as Error).message}`
    }
  }

  private async get<T> (path: string): Promise<T> {
    return this.session.step === 'ready' ? await this.session.authorized(token => getJson<T>(path, token)) : await getJson<T>(path)
  }
}
