/**
 * The server's Arweave indexer, as an operator runs it: ARWEAVE_URL set, it finds the records
 * others published on the gateway and answers them in /api/records (source=arweave), counts what
 * it read on /metrics, and refuses a forged item; ARWEAVE_INDEX=false leaves the gateway unread.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { oipNetworkText, oipTags } from '../../shared/oipNetworkRecord.ts'
import type { StoredOipRecord } from '../../shared/record.ts'
import type { ArweaveGateway } from '../../server/publishing/arweaveGateway.ts'
import { fundedPoster, startArlocal, type TestArweave } from '../helpers/arlocal.ts'
import { newIdentity } from '../helpers/auth.ts'
import { anyItem, oipRecordOf, ownerItem } from '../helpers/oipItems.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { until } from '../helpers/until.ts'

let arweave: TestArweave
let poster: ArweaveGateway
/** One funded wallet: it posts the test's bundles, and the servers load it instead of generating theirs. */
let walletFile: string
const servers: TestServer[] = []

before(async () => {
  arweave = await startArlocal()
  const funded = await fundedPoster(arweave)
  poster = funded.poster
  const { jwk } = funded
  walletFile = path.join(await tempDir('oip-wallet-'), 'wallet.json')
  await fs.writeFile(walletFile, JSON.stringify(jwk), { mode: 0o600 })
})
after(async () => {
  for (const server of servers) await server.destroy()
  await arweave?.stop()
  if (walletFile) await fs.rm(path.dirname(walletFile), { recursive: true, force: true })
})

async function start (more: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ ARWEAVE_URL: arweave.url, ARWEAVE_WALLET_FILE: walletFile, ARWEAVE_POLL_SECONDS: '1', ...more })
  servers.push(server)
  return server
}

const search = async (server: TestServer, query: string): Promise<StoredOipRecord[]> =>
  (await (await fetch(`${server.url}/api/records?${query}`)).json()).items

const metrics = async (server: TestServer): Promise<string> =>
  await (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${server.metricsToken}` } })).text()

test('records published on the gateway by others are found in /api/records with source arweave; a forged one is not; /metrics counts both', async () => {
  const server = await start()
  const quiet = await start({ ARWEAVE_INDEX: 'false' })
  const [frank, mallory] = [await newIdentity(), await newIdentity()]
  const record = oipRecordOf(frank, 'server lighthouse', { name: 'Lighthouse keeper.mp4', tags: ['coast'] })
  const { signature, item } = await ownerItem(record, frank)
  const renamed = { ...record, basic: { ...record.basic, name: 'Lighthouse keeper (mine).mp4' } }
  await poster.postBundle([item, await anyItem(oipNetworkText(renamed), oipTags(renamed, signature), mallory)])
  await arweave.mine()

  let found: StoredOipRecord[] = []
  for (let i = 0; i < 200 && found.length === 0; i++) {
    found = await search(server, `search=lighthouse&source=arweave&creator=${frank.publicKey}`)
    if (found.length === 0) await sleep(50)
  }
  assert.equal(found.length, 1, 'indexed within the polls')
  assert.deepEqual([found[0]!.record, found[0]!.signature, found[0]!.source], [record, signature, 'arweave'])
  assert.deepEqual((await search(server, 'search=lighthouse&source=arweave')).map(r => r.record.basic.name), ['Lighthouse keeper.mp4'], 'the forged copy is not stored')
  // The run may still be reading the forged item when the good one is found: counted once it has.
  const refused = /oip_arweave_index_items_total\{outcome="bad_owner_signature"\} 1/
  await until('the forged item is counted', async () => refused.test(await metrics(server)))
  const counted = await metrics(server)
  assert.match(counted, refused)
  assert.match(counted, /oip_arweave_index_items_total\{outcome="indexed"\} 1/)

  assert.deepEqual(await search(quiet, 'source=arweave'), [], 'ARWEAVE_INDEX=false: nothing read')
  assert.doesNotMatch(await metrics(quiet), /oip_arweave_index_items_total\{/)
})
