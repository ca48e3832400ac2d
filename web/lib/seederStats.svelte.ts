import type { SeederStats } from '../../shared/media.ts'

/** The server's seeding totals, refreshed on demand. */
export class SeederStatsState {
  stats = $state<SeederStats | undefined>()
  error = $state<string | undefined>()

  async refresh (): Promise<void> {
    try {
      const res = await fetch('/api/seeder/stats')
      if (!res.ok) throw new Error(`the server answered ${res.status}`)
      this.stats = await res.json() as SeederStats
      this.error = undefined
    } catch (err) {
      this.error = `Cannot reach the server: ${(err as Error).message}`
    }
  }
}
