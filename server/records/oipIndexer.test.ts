/**
 * The Arweave indexer against a real local gateway (arlocal): items posted in bundles by two
 * owners are indexed and found by search, creator, tags and source; forged ones are refused and
 * never stored, and the items after them still indexed; a restart goes on from the stored cursor
 * without reading anything twice; a record made here stays local. Then a hostile gateway: bad
 * GraphQL, malformed nodes, endless data and silence are each bounded and refused.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, test, type TestContext } from 'node:test'
import { oipNetworkText, oipTags } from '../../shared/oipNetworkRecord.ts'
import { canonicalRecord, recordId } from '../../shared/record.ts'
import { addressOf } from '../../shared/wallet.ts'
import { fundedPoster, startArlocal, type TestArweave } from '../../test/helpers/arlocal.ts'
import { newIdentity } from '../../test/helpers/auth.ts'
import { anyItem, listed, oipRecordOf, ownerItem } from '../../test/helpers/oipItems.ts'
import { describeEachDatabase, type DatabaseKind } from '../../test/helpers/postgres.ts'
import { openTestDatabase } from '../../test/helpers/testDatabase.ts'
import { silentLogger } from '../logger.ts'
import type { ArweaveGateway } from '../publishing/arweaveGateway.ts'
import { DatabaseOipRecordRepository, newRecordRow } from './oipRecordRepository.ts'
import { OipIndexCursor } from './oipIndexCursor.ts'
import { OipIndexer, type IndexOutcome } from './oipIndexer.ts'
import { OipIndexGateway } from './oipIndexGateway.ts'
import { parseRecordSearch, type RecordSearchParams } from './recordSearch.ts'

let arweave: TestArweave
/** Posts bundles to arlocal as any server's publisher does, with its own funded wallet. */
let poster: ArweaveGateway

before(async () => {
  arweave = await startArlocal()
  poster = (await fundedPoster(arweave)).poster
})
after(async () => { await arweave?.stop() })

/** Posted in one bundle and mined: GraphQL lists only items in a block. */
async function publish (items: Uint8Array[]): Promise<void> {
  await poster.postBundle(items)
  await arweave.mine()
}

interface Setup {
  records: DatabaseOipRecordRepository
  /** An indexer on this database, as a (re)started server makes one; its outcomes go in `outcomes`. */
  indexer: (gatewayUrl?: string) => OipIndexer
  outcomes: IndexOutcome[]
  names: (params: RecordSearchParams) => Promise<string[]>
}

async function setUp (kind: DatabaseKind, t: TestContext, { timeoutMs = 10_000, leads = true, pageSize = 2 } = {}): Promise<Setup> {
  const { db, dialect } = await openTestDatabase(kind, t)
  const records = new DatabaseOipRecordRepository(db, dialect)
  const outcomes: IndexOutcome[] = []
  return {
    records,
    outcomes,
    indexer: (gatewayUrl = arweave.url) => new OipIndexer({
      // Two items a page unless told: paging through cursors is part of every run.
      gateway: new OipIndexGateway(gatewayUrl, { pageSize, timeoutMs }),
      cursor: new OipIndexCursor(db, gatewayUrl),
      records,
      pollMs: 3_600_000,
      leads: () => leads,
      onItem: outcome => outcomes.push(outcome),
      log: silentLogger()
    }),
    names: async params => (await records.list({ ...parseRecordSearch(params, 50), limit: 50 })).map(r => r.name)
  }
}

describeEachDatabase('the Arweave indexer', kind => {
  test('two owners\' items are indexed and found by words, creator, tags and source; a forged one is not; a restart reads nothing twice', async t => {
    const { records, indexer, outcomes, names } = await setUp(kind, t)
    const [alice, bob] = [await newIdentity(), await newIdentity()]
    const lighthouse = oipRecordOf(alice, `${kind.kind} lighthouse`, { name: 'Lighthouse at dawn.mp4', tags: [`coast-${kind.kind}`, 'light'] })
    const ferry = oipRecordOf(bob, `${kind.kind} ferry`, { name: 'Ferry crossing.mp4', tags: [`coast-${kind.kind}`, 'boats'] })
    const aliceItem = await ownerItem(lighthouse, alice)
    // Bob's copy of Alice's signed record with another name: signed as an item by Bob, not by her.
    const renamed = { ...lighthouse, basic: { ...lighthouse.basic, name: 'Lighthouse forged.mp4' } }
    const forged = await anyItem(oipNetworkText(renamed), oipTags(renamed, aliceItem.signature), bob)
    await publish([aliceItem.item, forged, (await ownerItem(ferry, bob)).item])

    await indexer().run()
    assert.ok(outcomes.includes('bad_owner_signature'), `the forged item is refused (${outcomes.join(', ')})`)
    assert.deepEqual(await names({ search: 'lighthouse', source: 'arweave', creator: alice.publicKey }), ['Lighthouse at dawn.mp4'], 'found by words and creator; the forgery is not stored')
    assert.deepEqual(await names({ creator: addressOf(bob.publicKey) }), ['Ferry crossing.mp4'], 'the item after the forged one is indexed, found by its owner\'s address')
    const coast = await names({ tags: `coast-${kind.kind}`, source: 'arweave', sortBy: 'name:asc' })
    assert.deepEqual(coast, ['Ferry crossing.mp4', 'Lighthouse at dawn.mp4'])
    assert.deepEqual(await names({ search: 'lighthouse', source: 'local', creator: alice.publicKey }), [])
    const stored = (await records.get(recordId(lighthouse)))!
    assert.deepEqual([stored.source, stored.owner, stored.signature, stored.recordJson], ['arweave', alice.publicKey, aliceItem.signature, canonicalRecord(lighthouse)])

    // A restart: the stored cursor is where it goes on from.
    outcomes.length = 0
    await indexer().run()
    assert.deepEqual(outcomes, [], 'nothing is read again')
    const buoy = oipRecordOf(alice, `${kind.kind} buoy`, { name: 'Buoy.mp4' })
    await publish([(await ownerItem(buoy, alice)).item])
    await indexer().run()
    assert.deepEqual(outcomes, ['indexed'], 'only the new item')
    assert.deepEqual(await names({ creator: alice.publicKey, source: 'arweave', sortBy: 'name:asc' }), ['Buoy.mp4', 'Lighthouse at dawn.mp4'], 'no duplicates')
  })

  test('a record made here and published by this server stays local: one row, found once', async t => {
    const { records, indexer, outcomes, names } = await setUp(kind, t)
    const carol = await newIdentity()
    const pier = oipRecordOf(carol, `${kind.kind} pier`, { name: 'Pier.mp4' })
    const { signature, item } = await ownerItem(pier, carol)
    await records.save(newRecordRow(pier, signature, new Date()))
    await publish([item])
    await indexer().run()
    assert.equal(outcomes.at(-1), 'known')
    assert.equal((await records.get(recordId(pier)))!.source, 'local')
    assert.deepEqual(await names({ creator: carol.publicKey }), ['Pier.mp4'])
  })
})

/** A gateway that answers what `answer` says; the requests it got, by path. */
async function hostileGateway (t: TestContext, answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void): Promise<{ url: string, asked: string[] }> {
  const asked: string[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', chunk => { body += chunk })
    req.on('end', () => { asked.push(req.url!); answer(req, res, body) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked }
}

const sqlite: DatabaseKind = { kind: 'sqlite', newDatabase: async () => ({ options: { sqliteFile: ':memory:' }, env: {} }) }

test('a hostile gateway: malformed nodes and endless data are refused, the good item after them indexed, and the cursor kept', async t => {
  const { indexer, outcomes, names } = await setUp(sqlite, t, { pageSize: 3 })
  const dave = await newIdentity()
  const good = listed((await ownerItem(oipRecordOf(dave, 'hostile good', { name: 'Harbour.mp4' }), dave)).item)
  const endless = { ...good, id: 'E'.repeat(43) }
  const node = (item: typeof good, size = item.data.length) => ({ id: item.id, signature: item.signature, owner: { key: item.owner }, tags: item.tags, data: { size } })
  // One more than the page asked for: never read.
  const edges = [
    { cursor: 'c1', node: { id: 'not an id', owner: {}, tags: 'none' } },
    { cursor: 'c2', node: node(endless, 10) },
    { cursor: 'c3', node: node(good) },
    { cursor: 'c4', node: node(good) }
  ]
  // The cursor each GraphQL request asked to go on from.
  const afters: unknown[] = []
  const gateway = await hostileGateway(t, (req, res, body) => {
    if (req.url === '/graphql') {
      afters.push(JSON.parse(body).variables.after)
      return res.end(JSON.stringify({ data: { transactions: { pageInfo: { hasNextPage: false }, edges } } }))
    }
    if (req.url === `/${endless.id}`) {
      // It says little and sends without end.
      const chunk = Buffer.alloc(64 * 1024, 'x')
      const more = (): void => { while (res.write(chunk)); res.once('drain', more) }
      res.on('close', () => res.removeAllListeners('drain'))
      return more()
    }
    res.end(Buffer.from(good.data))
  })
  const run = indexer(gateway.url)
  await run.run()
  assert.deepEqual(outcomes, ['malformed', 'too_large', 'indexed'])
  assert.deepEqual(await names({ creator: dave.publicKey }), ['Harbour.mp4'])
  // Read again from c3, the last item read: the same page is what this gateway answers whatever
  // the cursor, and its item is known.
  await run.run()
  assert.deepEqual(afters, [undefined, 'c3'], 'the second run went on from the cursor kept')
  assert.deepEqual(outcomes.slice(3), ['malformed', 'too_large', 'known'])
})

test('a gateway answering no GraphQL, or nothing at all, ends the run with the cursor where it was; data that does not come holds the item for three runs', async t => {
  let mode: 'garbage' | 'silent' | 'no-data' = 'garbage'
  const erin = await newIdentity()
  const good = listed((await ownerItem(oipRecordOf(erin, 'hostile stalled'), erin)).item)
  const gateway = await hostileGateway(t, (req, res) => {
    if (mode === 'silent') return // never answers: the request's time limit ends it
    if (mode === 'garbage') return res.end('<html>not graphql</html>')
    if (req.url === '/graphql') return res.end(JSON.stringify({ data: { transactions: { pageInfo: { hasNextPage: false }, edges: [{ cursor: 'c1', node: { id: good.id, signature: good.signature, owner: { key: good.owner }, tags: good.tags, data: { size: 10 } } }] } } }))
    res.writeHead(503).end()
  })
  const { indexer, outcomes } = await setUp(sqlite, t, { timeoutMs: 500 })
  const run = indexer(gateway.url)
  await run.run()
  mode = 'silent'
  await run.run()
  assert.deepEqual(outcomes, [])
  mode = 'no-data'
  await run.run()
  await run.run()
  assert.deepEqual(outcomes, [], 'held twice')
  await run.run()
  assert.deepEqual(outcomes, ['data_unavailable'], 'then refused, and the loop goes on past it')
  assert.equal(gateway.asked.filter(p => p === '/graphql').length, 5)
})

test('a node that does not lead the cluster asks the gateway nothing', async t => {
  const gateway = await hostileGateway(t, (_req, res) => { res.end('{}') })
  const { indexer } = await setUp(sqlite, t, { leads: false })
  await indexer(gateway.url).run()
  assert.deepEqual(gateway.asked, [])
})

test('closing stops a run after the item being read, not after the whole page', async t => {
  const gwen = await newIdentity()
  const items = await Promise.all(['one', 'two', 'three'].map(async n => listed((await ownerItem(oipRecordOf(gwen, `closing ${n}`), gwen)).item)))
  const edges = items.map((item, i) => ({ cursor: `c${i}`, node: { id: item.id, signature: item.signature, owner: { key: item.owner }, tags: item.tags, data: { size: item.data.length } } }))
  let release = (): void => {}
  const released = new Promise<void>(resolve => { release = resolve })
  let asked = (): void => {}
  const firstData = new Promise<void>(resolve => { asked = resolve })
  const gateway = await hostileGateway(t, (req, res) => {
    if (req.url === '/graphql') return res.end(JSON.stringify({ data: { transactions: { pageInfo: { hasNextPage: false }, edges } } }))
    asked()
    void released.then(() => res.end(Buffer.from(items.find(i => req.url === `/${i.id}`)!.data)))
  })
  const { indexer, outcomes } = await setUp(sqlite, t, { pageSize: 3 })
  const run = indexer(gateway.url)
  const running = run.run()
  await firstData
  const closing = run.close()
  release()
  await closing
  await running
  assert.deepEqual(outcomes, ['indexed'])
})
