/**
 * A local Arweave gateway for tests: arlocal (node_modules/arlocal) on a free loopback port over a
 * temp folder, with what tests do to it (fund a wallet, mine a block, query GraphQL, read data),
 * and a switch in front of it that plays a gateway that is down. The server under test only gets
 * ARWEAVE_URL, as an operator would set it.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import type http from 'node:http'
import path from 'node:path'
import * as arlocalModule from 'arlocal'
import Arweave from 'arweave'
import type { JWKInterface } from 'arweave/node/lib/wallet.js'
import { ArweaveGateway } from '../../server/publishing/arweaveGateway.ts'
import { DEFAULT_ARWEAVE_MAX_REWARD } from '../../server/config.ts'
import { freePort } from '../../bench/serverProcess.ts'
import { startHttpRelay } from './httpRelay.ts'
import { tempDir } from './server.ts'

// arlocal's CommonJS module keeps its class under `default` (Node's import wraps it in another).
type ArLocalClass = typeof import('arlocal').default
const ArLocal = ((m: { default?: unknown }): ArLocalClass => {
  let c = m.default
  while (typeof c !== 'function') c = (c as { default?: unknown }).default
  return c as ArLocalClass
})(arlocalModule)

/** What tests do to a running arlocal, over HTTP (so from any process: e2e specs share one). */
export interface ArlocalClient {
  url: string
  /** GET /mint/<address>/<winston>: arlocal answers 410 to a wallet it holds no balance for. */
  mint (address: string, winston?: number): Promise<void>
  /** GET /mine: the pending transactions get a block (one confirmation). */
  mine (): Promise<void>
  graphql<T> (query: string): Promise<T>
  /** A transaction's or data item's data, as text. */
  data (id: string): Promise<string>
}

export interface TestArweave extends ArlocalClient {
  stop (): Promise<void>
}

/** The Arweave address of an owner key (a wallet's n, or a data item's owner): SHA-256, base64url. */
export const addressOfOwner = (owner: Uint8Array): string => createHash('sha256').update(owner).digest('base64url')

/** A new wallet, funded on this gateway, posting bundles as any server's publisher does. */
export async function fundedPoster (arweave: ArlocalClient): Promise<{ poster: ArweaveGateway, jwk: JWKInterface }> {
  const jwk = await Arweave.init({}).wallets.generate()
  const address = await Arweave.init({}).wallets.jwkToAddress(jwk)
  await arweave.mint(address)
  return { poster: new ArweaveGateway(arweave.url, { jwk, address }, DEFAULT_ARWEAVE_MAX_REWARD), jwk }
}

export function arlocalClient (url: string): ArlocalClient {
  const get = async (p: string): Promise<Response> => {
    const res = await fetch(`${url}${p}`)
    if (!res.ok) throw new Error(`arlocal GET ${p}: ${res.status} ${await res.text()}`)
    return res
  }
  return {
    url,
    async mint (address, winston = 1e15) { await get(`/mint/${address}/${winston}`) },
    async mine () { await get('/mine') },
    async graphql<T> (query: string) {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query }) })
      const body = await res.json() as { data: T, errors?: unknown }
      if (body.errors) throw new Error(`arlocal GraphQL: ${JSON.stringify(body.errors)}`)
      return body.data
    },
    async data (id) { return await (await get(`/${id}`)).text() }
  }
}

/**
 * `port`: where a server under test already expects it (e2e), else a free one. Its chain lives
 * as long as it runs: arlocal's `persist` does not keep it (its stop drops the tables then).
 */
export async function startArlocal (port?: number): Promise<TestArweave> {
  const dir = await tempDir('oip-arlocal-')
  // arlocal takes a port (0 means its default, 1984), not an address, and listens on every
  // interface: its Koa app is made to listen on loopback instead.
  port ??= await freePort()
  const arlocal = new ArLocal(port, false, path.join(dir, 'db'), false)
  // It appends every request to ./logs (the working directory, here the repository), logs hidden or not.
  ;(arlocal as unknown as { log: { logInFile: () => void } }).log.logInFile = () => {}
  const koa = (arlocal as unknown as { app: { listen: (...args: unknown[]) => http.Server } }).app
  const listen = koa.listen.bind(koa)
  koa.listen = (p: unknown, cb: unknown) => listen(p, '127.0.0.1', cb)
  await arlocal.start()
  await new Promise<void>(resolve => { const s = arlocal.getServer(); s.listening ? resolve() : s.once('listening', () => resolve()) })
  return {
    ...arlocalClient(`http://127.0.0.1:${port}`),
    async stop () {
      const server = arlocal.getServer()
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
      await arlocal.stop()
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

/** In front of a gateway: passes requests on while `up`, and cuts connections (a gateway that is down) otherwise. */
export interface GatewaySwitch {
  url: string
  up: boolean
  close (): Promise<void>
}

export async function gatewaySwitch (target: string): Promise<GatewaySwitch> {
  const state = { up: false }
  const relay = await startHttpRelay(() => state.up ? target : undefined)
  return {
    url: relay.url,
    get up () { return state.up },
    set up (value: boolean) { state.up = value },
    close: relay.close
  }
}
