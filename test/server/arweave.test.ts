/**
 * Public records to Arweave against a real local gateway (arlocal): the owner's data item is
 * checked and queued, bundled and posted with the server's wallet, found in the gateway's
 * GraphQL with the OIP tags and a record whose owner signature verifies, confirmed after a
 * block; every item that is not exactly the record's, by its owner, is refused and nothing is
 * kept; a gateway that is down or refuses is retried by itself, and a restart carries on.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { createData, EthereumSigner } from '@dha-team/arbundles'
import { bytesToHex } from '@noble/hashes/utils.js'
import { ITEM_LAYOUT, itemOwnerOf, signOipDataItem } from '../../shared/oipDataItem.ts'
import { fromOipNetwork, oipNetworkText, oipTags } from '../../shared/oipNetworkRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import { signRecord, verifyRecord } from '../../shared/signing.ts'
import { GENERATED_WALLET } from '../../server/publishing/arweaveWallet.ts'
import { addressOfOwner, gatewaySwitch, startArlocal, type GatewaySwitch, type TestArweave } from '../helpers/arlocal.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { ownRecord } from '../helpers/ownRecord.ts'
import { until } from '../helpers/until.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { arweaveItemVerdict } from '../../web/lib/recordVerdict.ts'

let arweave: TestArweave
let gateway: GatewaySwitch
let server: TestServer
/** The wallet the first server generated, given to the others as ARWEAVE_WALLET_FILE. */
let walletFile: string
let walletAddress: string

// Retries come quickly here (the first after 50 ms); the publisher runs every second by itself.
const TIMINGS = { arweaveTimings: { retryBaseMs: 50, retryMaxMs: 200 } }
const env = (url: string, more: Record<string, string> = {}): Record<string, string> =>
  ({ ARWEAVE_URL: url, ARWEAVE_POLL_SECONDS: '1', ALLOW_ANONYMOUS_UPLOADS: 'false', ...more })

before(async () => {
  arweave = await startArlocal()
  gateway = await gatewaySwitch(arweave.url)
  server = await startTestServer(env(arweave.url), TIMINGS)
  const generated = path.join(server.dir, 'data', GENERATED_WALLET)
  walletFile = path.join(await tempDir('oip-wallet-'), 'wallet.json')
  await fs.copyFile(generated, walletFile)
  const jwk = JSON.parse(await fs.readFile(walletFile, 'utf8'))
  walletAddress = addressOfOwner(Buffer.from(jwk.n, 'base64url'))
})
after(async () => {
  await server?.destroy()
  await gateway?.close()
  await arweave?.stop()
  if (walletFile) await fs.rm(path.dirname(walletFile), { recursive: true, force: true })
})

const postItem = async (on: TestServer, recordId: string, item: Uint8Array, token?: string): Promise<Response> =>
  await fetch(`${on.url}/api/records/${recordId}/arweave`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', ...bearer(token) }, body: item as Uint8Array<ArrayBuffer> })

const publication = async (on: TestServer, recordId: string): Promise<Publication | undefined> =>
  (await (await fetch(`${on.url}/api/records/${recordId}`)).json()).publication

const inState = (on: TestServer, recordId: string, state: Publication['state']) => async (): Promise<boolean> => (await publication(on, recordId))?.state === state

test('the server generates its wallet in DATA_DIR (mode 0600) and GET /api/network says it publishes to Arweave', async () => {
  const stat = await fs.stat(path.join(server.dir, 'data', GENERATED_WALLET))
  assert.equal(stat.mode & 0o777, 0o600)
  assert.deepEqual(await (await fetch(`${server.url}/api/network`)).json(), { arweave: { publishing: true }, gun: { publishing: false } })
})

test('a public record\'s item: refused by an unfunded gateway (410, said), then posted in a bundle, found in GraphQL with the OIP tags, its record verifying, and confirmed', async () => {
  const { me, token, record, signature, recordId } = await ownRecord(server)
  const item = await signOipDataItem(createData, record, signature, me.privateKey)
  const res = await postItem(server, recordId, item, token)
  assert.equal(res.status, 202)
  const queued = (await res.json()).publication as Publication
  assert.equal(queued.network, 'arweave')
  assert.equal(queued.recordId, recordId)
  const readBack = async (t?: string): Promise<Response> => await fetch(`${server.url}/api/records/${recordId}/arweave`, { headers: bearer(t) })
  const notYet = await readBack(token)
  assert.equal(notYet.status, 409, 'nothing to read back before its bundle is posted')
  assert.equal((await notYet.json()).error.code, 'not_posted')

  // The server's wallet holds nothing yet: arlocal answers 410, and the row says what to do.
  await until('the unfunded gateway refuses', inState(server, recordId, 'failed'))
  assert.match((await publication(server, recordId))!.error!, new RegExp(`410.*${walletAddress}.*too little AR`))
  await arweave.mint(walletAddress)
  await until('the bundle is posted', inState(server, recordId, 'posted'))
  const posted = (await publication(server, recordId))!
  assert.equal(posted.error, undefined)
  const itemId = posted.did!.replace('did:arweave:', '')
  await arweave.mine()
  await until('the bundle is confirmed', inState(server, recordId, 'confirmed'))

  const { transactions } = await arweave.graphql<{ transactions: { edges: Array<{ node: { id: string, owner: { key: string }, tags: Array<{ name: string, value: string }> } }> } }>(
    `{ transactions(tags: [{ name: "Index-Method", values: ["OIP"] }, { name: "Media-Id", values: ["${record.media.mediaId}"] }]) { edges { node { id owner { key } tags { name value } } } } }`)
  assert.equal(transactions.edges.length, 1)
  const found = transactions.edges[0]!.node
  assert.equal(found.id, itemId)
  assert.deepEqual(found.tags, oipTags(record, signature))
  assert.equal(found.owner.key, Buffer.from(itemOwnerOf(me.publicKey)).toString('base64url'))
  const text = await arweave.data(itemId)
  assert.equal(text, oipNetworkText(record))
  const ownerSignature = found.tags.find(t => t.name === 'Owner-Signature')!.value
  assert.equal(verifyRecord(fromOipNetwork(JSON.parse(text)), ownerSignature), true)

  // Verify in the app: the owner's item as the gateway lists it, which the browser checks.
  const back = await readBack(token)
  assert.equal(back.status, 200)
  const gatewayItem = await back.json()
  assert.deepEqual(gatewayItem, { id: itemId, owner: found.owner.key, signature: gatewayItem.signature, tags: oipTags(record, signature), data: oipNetworkText(record) })
  assert.deepEqual(arweaveItemVerdict(gatewayItem, me.publicKey, recordId).ok, true)
  assert.equal((await readBack()).status, 401, 'only its owner reads it back')
  assert.equal((await readBack(await signIn(server.url, await newIdentity()))).status, 403)

  // The owner's answers carry it: the record list and My files.
  const listed = (await (await fetch(`${server.url}/api/records?creator=${me.publicKey}`)).json()).items
  assert.equal(listed[0].publication.did, `did:arweave:${itemId}`)
  assert.equal(listed[0].publication.state, 'confirmed')
  const mine = (await (await fetch(`${server.url}/api/media?owner=me`, { headers: bearer(token) })).json()).items
  assert.equal(mine[0].publication.state, 'confirmed')
  // The same item again changes nothing; a retry has nothing to do.
  assert.equal((await postItem(server, recordId, item, token)).status, 200)
  const retry = await fetch(`${server.url}/api/records/${recordId}/arweave/retry`, { method: 'POST', headers: bearer(token) })
  assert.equal(retry.status, 409)
  assert.equal((await retry.json()).error.code, 'already_posted')
})

test('an item that is not exactly the record\'s, by its owner, is refused, and nothing is kept', async () => {
  const { me, token, record, signature, recordId } = await ownRecord(server)
  const good = await signOipDataItem(createData, record, signature, me.privateKey)
  const signedBy = async (key: Uint8Array, data: string, tags: Array<{ name: string, value: string }>): Promise<Uint8Array> => {
    const signer = new EthereumSigner(bytesToHex(key))
    const item = createData(data, signer, { tags })
    await item.sign(signer)
    return item.getRaw()
  }
  const flipped = (at: number): Uint8Array => {
    const copy = Uint8Array.from(good)
    copy[at]! ^= 1
    return copy
  }
  const stranger = await newIdentity()
  const changed = { ...record, basic: { ...record.basic, description: 'Not what was signed' } }
  const cases: Array<[string, Uint8Array, number, string]> = [
    ['another key\'s item', await signedBy(stranger.privateKey, oipNetworkText(record), oipTags(record, signature)), 403, 'wrong_signer'],
    ['a byte of the text changed', flipped(good.length - 2), 400, 'item_mismatch'],
    ['a byte of the signature changed', flipped(ITEM_LAYOUT.signature + 5), 400, 'bad_item_signature'],
    ['a tag added', await signedBy(me.privateKey, oipNetworkText(record), [...oipTags(record, signature), { name: 'Extra', value: 'x' }]), 400, 'item_mismatch'],
    ['another text under this record', await signedBy(me.privateKey, oipNetworkText(changed), oipTags(changed, signRecord(changed, me.privateKey))), 400, 'item_mismatch'],
    ['not a data item', new Uint8Array(40), 400, 'bad_data_item']
  ]
  for (const [what, item, status, code] of cases) {
    const res = await postItem(server, recordId, item, token)
    assert.equal(res.status, status, what)
    const { error } = await res.json()
    assert.equal(error.code, code, what)
    assert.match(error.message, /signOipDataItem/, what)
  }
  // The owner's good item, sent by someone else or by nobody, or sent as something else.
  assert.equal((await postItem(server, recordId, good, await signIn(server.url, stranger))).status, 403)
  assert.equal((await postItem(server, recordId, good)).status, 401)
  const json = await fetch(`${server.url}/api/records/${recordId}/arweave`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: '{}' })
  assert.equal(json.status, 400)
  assert.equal((await json.json()).error.code, 'bad_content_type')

  // A private record never goes to Arweave, even signed by its owner.
  const secret = await ownRecord(server, 'private')
  const res = await postItem(server, secret.recordId, await signedBy(secret.me.privateKey, oipNetworkText(secret.record), oipTags(secret.record, secret.signature)), secret.token)
  assert.equal(res.status, 400)
  assert.equal((await res.json()).error.code, 'private_record')

  for (const [id, t] of [[recordId, token], [secret.recordId, secret.token]] as const) {
    assert.equal((await (await fetch(`${server.url}/api/records/${id}`, { headers: bearer(t) })).json()).publication, undefined)
    const retry = await fetch(`${server.url}/api/records/${id}/arweave/retry`, { method: 'POST', headers: bearer(t) })
    assert.equal(retry.status, id === recordId ? 404 : 400, 'nothing was kept to retry')
  }
})

test('a gateway that is down: failed, saying so, tried again by itself and with Retry; posted once it is back, and after a restart', async () => {
  gateway.up = false
  await arweave.mint(walletAddress)
  const dir = await tempDir()
  let down = await startTestServer(env(gateway.url, { ARWEAVE_WALLET_FILE: walletFile }), { ...TIMINGS, dir })
  const a = await ownRecord(down)
  assert.equal((await postItem(down, a.recordId, await signOipDataItem(createData, a.record, a.signature, a.me.privateKey), a.token)).status, 202)
  await until('the first attempt fails', inState(down, a.recordId, 'failed'))
  assert.match((await publication(down, a.recordId))!.error!, /cannot be reached/)
  await until('it is tried again by itself', async () => (await publication(down, a.recordId))!.attempts >= 3)
  const retry = await fetch(`${down.url}/api/records/${a.recordId}/arweave/retry`, { method: 'POST', headers: bearer(a.token) })
  assert.equal(retry.status, 202)
  assert.equal((await retry.json()).publication.state, 'queued')

  // A second record waits through a restart: nothing is lost.
  const b = await ownRecord(down)
  assert.equal((await postItem(down, b.recordId, await signOipDataItem(createData, b.record, b.signature, b.me.privateKey), b.token)).status, 202)
  await until('the second fails too', inState(down, b.recordId, 'failed'))
  await down.close()
  gateway.up = true
  down = await startTestServer(env(gateway.url, { ARWEAVE_WALLET_FILE: walletFile }), { ...TIMINGS, dir })
  try {
    await until('both are posted after the restart', async () => (await inState(down, a.recordId, 'posted')()) && await inState(down, b.recordId, 'posted')())
    await arweave.mine()
    await until('and confirmed', async () => (await inState(down, a.recordId, 'confirmed')()) && await inState(down, b.recordId, 'confirmed')())
    const dids = [(await publication(down, a.recordId))!.did!, (await publication(down, b.recordId))!.did!]
    for (const did of dids) assert.equal(JSON.parse(await arweave.data(did.replace('did:arweave:', ''))).basic.name, 'Clip')
  } finally {
    await down.destroy()
  }
})

test('a gateway that asks more than ARWEAVE_MAX_REWARD for a bundle is not paid: failed, saying so, and posted once the cap allows the price', async () => {
  await arweave.mint(walletAddress)
  const dir = await tempDir()
  // arlocal asks ~65.6 million winston a kB: a bundle of one item costs more than 1000.
  const capped = await startTestServer(env(arweave.url, { ARWEAVE_WALLET_FILE: walletFile, ARWEAVE_MAX_REWARD: '1000' }), { ...TIMINGS, dir })
  const balance = async (): Promise<string> => await (await fetch(`${arweave.url}/wallet/${walletAddress}/balance`)).text()
  const before = await balance()
  let a: Awaited<ReturnType<typeof ownRecord>>
  try {
    a = await ownRecord(capped)
    assert.equal((await postItem(capped, a.recordId, await signOipDataItem(createData, a.record, a.signature, a.me.privateKey), a.token)).status, 202)
    await until('the bundle is refused', inState(capped, a.recordId, 'failed'))
    assert.match((await publication(capped, a.recordId))!.error!, /asks \d+ winston for a bundle of \d+ bytes, over ARWEAVE_MAX_REWARD \(1000\); nothing was paid/)
    await until('and again, by itself', async () => (await publication(capped, a.recordId))!.attempts >= 2)
    assert.equal(await balance(), before, 'the wallet paid nothing')
  } finally {
    await capped.close()
  }
  const uncapped = await startTestServer(env(arweave.url, { ARWEAVE_WALLET_FILE: walletFile }), { ...TIMINGS, dir })
  try {
    await until('posted under the default cap', inState(uncapped, a.recordId, 'posted'))
    assert.ok(BigInt(await balance()) < BigInt(before), 'paid now')
  } finally {
    await uncapped.destroy()
  }
})

test('a server without ARWEAVE_URL does not publish: GET /api/network says so and an item gets 409, nothing kept', async () => {
  const off = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
  try {
    assert.deepEqual(await (await fetch(`${off.url}/api/network`)).json(), { arweave: { publishing: false }, gun: { publishing: false } })
    const { me, token, record, signature, recordId } = await ownRecord(off)
    const res = await postItem(off, recordId, await signOipDataItem(createData, record, signature, me.privateKey), token)
    assert.equal(res.status, 409)
    const { error } = await res.json()
    assert.equal(error.code, 'not_publishing')
    assert.match(error.message, /ARWEAVE_URL/)
    assert.equal(await publication(off, recordId), undefined)
    assert.equal(await fs.stat(path.join(off.dir, 'data', GENERATED_WALLET)).catch(() => undefined), undefined, 'no wallet is made')
  } finally {
    await off.destroy()
  }
})
