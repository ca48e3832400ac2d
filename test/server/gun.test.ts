/**
 * Private records to GUN against a real relay (test/helpers/gun.ts): the owner's sealed node is
 * checked, queued and put on the relay, where a second gun client finds only ciphertext, which
 * opens with the owner's key as the signed record; only the owner's private record is taken;
 * deleting the file tombstones the node on the relay; a relay that is down is retried by itself.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { gunRecordKeys, gunSoul, MAX_GUN_CIPHERTEXT, openGunRecord, sealGunRecord, type GunRecordNode } from '../../shared/gunRecord.ts'
import type { Publication } from '../../shared/publication.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { readGunNode, startGunRelay, writeGunNode, type TestGunRelay } from '../helpers/gun.ts'
import { ownRecord, type Owned } from '../helpers/ownRecord.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { until } from '../helpers/until.ts'

let relay: TestGunRelay
let server: TestServer

before(async () => {
  relay = await startGunRelay()
  // Runs every second by itself; retries come quickly (the first after 50 ms); a relay that does not answer fails in 1 s.
  server = await startTestServer({ GUN_PEERS: relay.url, GUN_POLL_SECONDS: '1', ALLOW_ANONYMOUS_UPLOADS: 'false' },
    { gunTimings: { retryBaseMs: 50, retryMaxMs: 200, relayTimeoutMs: 1000 } })
})
after(async () => {
  await server?.destroy()
  await relay?.stop()
})

const postNode = async (recordId: string, body: unknown, token?: string): Promise<Response> =>
  await fetch(`${server.url}/api/records/${recordId}/gun`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) })

const sealed = async (o: Owned): Promise<{ soul: string, node: { v: 1, iv: string, ct: string } }> => await sealGunRecord(o.record, o.signature, o.me.privateKey)

const publication = async (o: Owned): Promise<Publication | undefined> =>
  (await (await fetch(`${server.url}/api/records/${o.recordId}`, { headers: bearer(o.token) })).json()).publication

const inState = (o: Owned, state: Publication['state']) => async (): Promise<boolean> => (await publication(o))?.state === state

test('GET /api/network says the server publishes to GUN', async () => {
  assert.deepEqual(await (await fetch(`${server.url}/api/network`)).json(), { arweave: { publishing: false }, gun: { publishing: true } })
})

test('a private record\'s sealed node: queued, put on the relay with no plaintext field, opened by the owner\'s key, shown with its soul', async () => {
  const owned = await ownRecord(server, 'private')
  const { soul, node } = await sealed(owned)
  const res = await postNode(owned.recordId, { soul, node }, owned.token)
  assert.equal(res.status, 202)
  const queued = (await res.json()).publication as Publication
  assert.deepEqual([queued.network, queued.recordId, queued.did], ['gun', owned.recordId, `did:gun:${soul}`])
  await until('the node is posted', inState(owned, 'posted'))

  // What the relay holds, read by another gun client: the ciphertext and nothing of the record.
  const raw = await readGunNode(relay.url, soul)
  assert.deepEqual(raw, node)
  const text = JSON.stringify(raw)
  const { basic, media, accessControl } = owned.record
  for (const plain of [basic.name, basic.description, ...basic.tagItems, media.mediaId, media.bittorrentAddress, media.httpUrl, accessControl.owner_public_key, owned.signature]) {
    assert.ok(!text.includes(plain), `the relay's node shows ${plain}`)
  }
  assert.deepEqual(await openGunRecord(raw, media.mediaId, owned.me.privateKey), { record: owned.record, signature: owned.signature })
  // The server's read endpoint gives the same node (the owner's other browser verifies through it).
  const read = await fetch(`${server.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
  assert.equal(read.status, 200)
  assert.deepEqual(await read.json(), { soul, node })

  // Anyone may write beside the node on a relay: the read gives the node's own fields only.
  await writeGunNode(relay.url, soul, { ...node, junk: 'x'.repeat(300_000), ct2: 'y' } as unknown as GunRecordNode)
  const beside = await fetch(`${server.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
  assert.deepEqual(await beside.json(), { soul, node })
  // A field of its own longer than any sealed node's is left out too.
  await writeGunNode(relay.url, soul, { ...node, ct: 'A'.repeat(MAX_GUN_CIPHERTEXT + 1) })
  const long = await fetch(`${server.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
  assert.deepEqual(await long.json(), { soul, node: { v: node.v, iv: node.iv } })
  await writeGunNode(relay.url, soul, node)

  // My files carries it; the same node again changes nothing; Retry has nothing to do.
  const mine = (await (await fetch(`${server.url}/api/media?owner=me`, { headers: bearer(owned.token) })).json()).items
  assert.equal(mine[0].publication.did, `did:gun:${soul}`)
  assert.equal(mine[0].publication.state, 'posted')
  assert.equal((await postNode(owned.recordId, { soul, node }, owned.token)).status, 200)
  const retry = await fetch(`${server.url}/api/records/${owned.recordId}/gun/retry`, { method: 'POST', headers: bearer(owned.token) })
  assert.equal(retry.status, 409)
  assert.equal((await retry.json()).error.code, 'already_posted')
  // Nobody else sees the private record's publication.
  assert.equal((await (await fetch(`${server.url}/api/records/${owned.recordId}`)).json()).error.code, 'not_found')
})

test('only the owner\'s private record is taken, as a well-formed soul and a node of ciphertext only; nothing is kept of a refused one', async () => {
  const owned = await ownRecord(server, 'private')
  const { soul, node } = await sealed(owned)
  const stranger = await newIdentity()
  const strangerToken = await signIn(server.url, stranger)
  const open = await ownRecord(server, 'public')
  const other = await ownRecord(server, 'private')
  // The other owner's soul is taken here by their node.
  const theirs = await sealed(other)
  assert.equal((await postNode(other.recordId, theirs, other.token)).status, 202)

  const cases: Array<[string, string, unknown, string | undefined, number, string]> = [
    ['no session', owned.recordId, { soul, node }, undefined, 401, 'login_required'],
    ['another key (the record looks missing)', owned.recordId, { soul, node }, strangerToken, 404, 'not_found'],
    ['a public record', open.recordId, { soul, node }, open.token, 400, 'public_record'],
    ['a soul not of the app\'s form', owned.recordId, { soul: `oip-media-seeder/${owned.record.media.mediaId}`, node }, owned.token, 400, 'bad_soul'],
    ['a plaintext field riding along', owned.recordId, { soul, node: { ...node, name: owned.record.basic.name } }, owned.token, 400, 'bad_gun_node'],
    ['not a sealed node', owned.recordId, { soul, node: { v: 1, iv: 'short', ct: 'x' } }, owned.token, 400, 'bad_gun_node'],
    ['another owner\'s soul', owned.recordId, { soul: theirs.soul, node }, owned.token, 409, 'soul_taken']
  ]
  for (const [what, recordId, body, token, status, code] of cases) {
    const res = await postNode(recordId, body, token)
    assert.equal(res.status, status, what)
    const { error } = await res.json()
    assert.equal(error.code, code, what)
    assert.ok(error.message.length > 20, what)
  }
  assert.equal(await publication(owned), undefined)
  assert.equal((await publication(other))?.did, `did:gun:${theirs.soul}`)
  assert.equal(await readGunNode(relay.url, soul), undefined)
})

test('deleting the file overwrites its node on the relay with a tombstone', async () => {
  const owned = await ownRecord(server, 'private')
  const { soul, node } = await sealed(owned)
  assert.equal((await postNode(owned.recordId, { soul, node }, owned.token)).status, 202)
  await until('the node is posted', inState(owned, 'posted'))
  assert.deepEqual(await readGunNode(relay.url, soul), node)

  const res = await fetch(`${server.url}/api/media/${owned.record.media.mediaId}`, { method: 'DELETE', headers: bearer(owned.token) })
  assert.equal(res.status, 204)
  await until('the relay has the tombstone', async () => (await readGunNode(relay.url, soul))?.ct === null)
  assert.deepEqual(await readGunNode(relay.url, soul), { v: null, iv: null, ct: null })
  await assert.rejects(openGunRecord(await readGunNode(relay.url, soul), owned.record.media.mediaId, owned.me.privateKey), /deleted/)
  // Its soul is the owner's to use again, for a new upload of the file.
  assert.equal(soul, gunSoul(gunRecordKeys(owned.me.privateKey), owned.record.media.mediaId))
  // And no one else's: a key that read it off the relay cannot take it here, also once the
  // tombstone's run is over (a node sent after it is posted in a later run).
  const squatter = await ownRecord(server, 'private')
  const later = await ownRecord(server, 'private')
  assert.equal((await postNode(later.recordId, await sealed(later), later.token)).status, 202)
  await until('a node sent after the tombstone is posted', inState(later, 'posted'))
  const res2 = await postNode(squatter.recordId, { soul, node: (await sealed(squatter)).node }, squatter.token)
  assert.equal(res2.status, 409)
  assert.equal((await res2.json()).error.code, 'soul_taken')
})

test('one soul per owner\'s file: a node for the same file under another soul is refused, so a key cannot pile up nodes', async () => {
  const owned = await ownRecord(server, 'private')
  const { soul, node } = await sealed(owned)
  assert.equal((await postNode(owned.recordId, { soul, node }, owned.token)).status, 202)
  const elsewhere = gunSoul(gunRecordKeys((await newIdentity()).privateKey), owned.record.media.mediaId)
  const res = await postNode(owned.recordId, { soul: elsewhere, node }, owned.token)
  assert.equal(res.status, 409)
  const { error } = await res.json()
  assert.equal(error.code, 'soul_mismatch')
  assert.match(error.message, new RegExp(soul))
  assert.equal((await publication(owned))?.did, `did:gun:${soul}`)
})

test('a relay that is down: the node fails, saying so, and is put by itself once the relay is back', async () => {
  const owned = await ownRecord(server, 'private')
  const { soul, node } = await sealed(owned)
  await relay.stop()
  try {
    assert.equal((await postNode(owned.recordId, { soul, node }, owned.token)).status, 202)
    await until('the node fails', inState(owned, 'failed'))
    assert.match((await publication(owned))!.error!, /GUN relay.*tried again later/)
    // Verify's read says so too.
    const read = await fetch(`${server.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
    assert.equal(read.status, 502)
    assert.equal((await read.json()).error.code, 'gun_unreachable')
  } finally {
    await relay.start()
  }
  await until('the node is posted once the relay is back', inState(owned, 'posted'))
  const posted = (await publication(owned))!
  assert.ok(posted.attempts >= 2)
  assert.equal(posted.error, undefined)
  assert.deepEqual(await readGunNode(relay.url, soul), node)
})

test('a server without GUN_PEERS takes no node and reads none, saying why', async () => {
  const off = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
  try {
    const owned = await ownRecord(off, 'private')
    const { soul, node } = await sealed(owned)
    const res = await fetch(`${off.url}/api/records/${owned.recordId}/gun`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...bearer(owned.token) }, body: JSON.stringify({ soul, node }) })
    assert.equal(res.status, 409)
    assert.match((await res.json()).error.message, /GUN_PEERS/)
    const read = await fetch(`${off.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
    assert.equal(read.status, 409)
    assert.deepEqual((await (await fetch(`${off.url}/api/network`)).json()).gun, { publishing: false })
  } finally {
    await off.destroy()
  }
})

test('reads of GUN nodes are limited per client address (each waits on the relays): past VERIFY_READS_PER_MINUTE, 429 with Retry-After', async () => {
  const limited = await startTestServer({ GUN_PEERS: relay.url, VERIFY_READS_PER_MINUTE: '2', ALLOW_ANONYMOUS_UPLOADS: 'false' })
  try {
    const owned = await ownRecord(limited, 'private')
    const { soul } = await sealed(owned)
    const read = async (): Promise<Response> => await fetch(`${limited.url}/api/gun?soul=${encodeURIComponent(soul)}`, { headers: bearer(owned.token) })
    assert.deepEqual([(await read()).status, (await read()).status], [200, 200])
    const refused = await read()
    assert.equal(refused.status, 429)
    assert.ok(Number(refused.headers.get('Retry-After')) >= 1)
    assert.match((await refused.json()).error.message, /VERIFY_READS_PER_MINUTE/)
  } finally {
    await limited.destroy()
  }
})
