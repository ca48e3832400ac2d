/**
 * A PostgreSQL connection of its own, outside the pool, for what lasts as long as a session: an
 * advisory lock (leadership.ts), LISTEN (clusterChannel.ts). When it breaks, what it held is
 * gone: `onLost` says so, and the next `client()` opens a new one.
 */
import pg from 'pg'

export interface DedicatedConnectionOptions {
  url: string
  /** Shown in pg_stat_activity. */
  name: string
  /** A query that takes longer fails, and the connection counts as broken (ms). */
  queryTimeoutMs: number
  /** Run on every new connection before it is used (session settings, LISTEN). */
  setup?: (client: pg.Client) => Promise<void>
  /** The connection broke, or was dropped: what it held is gone. */
  onLost: (err: Error) => void
}

export class DedicatedConnection {
  private readonly opts: DedicatedConnectionOptions
  private current: { client: pg.Client, ready: Promise<pg.Client> } | undefined
  private closed = false

  constructor (opts: DedicatedConnectionOptions) {
    this.opts = opts
  }

  /** The connection, opened and set up first if there is none. */
  async client (): Promise<pg.Client> {
    if (this.closed) throw new Error('the connection is closed')
    this.current ??= this.open()
    return await this.current.ready
  }

  /** Count the connection as broken (a query on it failed): it is closed and onLost told. */
  drop (err: Error): void {
    const current = this.current
    if (!current) return
    this.current = undefined
    current.client.end().catch(() => {})
    if (!this.closed) this.opts.onLost(err)
  }

  async close (): Promise<void> {
    this.closed = true
    const current = this.current
    this.current = undefined
    await current?.client.end().catch(() => {})
  }

  private open (): { client: pg.Client, ready: Promise<pg.Client> } {
    const { url, name, queryTimeoutMs, setup } = this.opts
    // keepAlive: a peer gone without a word (a machine off the network) is noticed here too.
    const client = new pg.Client({ connectionString: url, application_name: name, keepAlive: true, query_timeout: queryTimeoutMs, connectionTimeoutMillis: queryTimeoutMs })
    const lost = (err: Error): void => { if (this.current?.client === client) this.drop(err) }
    client.on('error', lost)
    client.on('end', () => lost(new Error('the connection closed')))
    const ready = (async () => {
      await client.connect()
      await setup?.(client)
      return client
    })()
    ready.catch(lost)
    return { client, ready }
  }
}
