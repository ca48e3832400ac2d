/**
 * The web app's web seed worker (web/workers/webSeed.worker.ts, web/lib/rangeWebSeed.ts) in Node:
 * the worker against a small HTTP server that answers Range requests (and can be told to
 * misbehave or to hold a response at a byte), then a real WebTorrent client downloading from the
 * real server with it and the Blob store (web/lib/blobChunkStore.ts).
 *
 * Waits are for events and conditions only (generous timeouts that fail with what was seen);
 * where a test holds a response, the server holds it at a byte, never for a time. Two checks that
 * something did not happen wait 100 ms.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, test, type TestContext } from 'node:test'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent, { type Torrent, type Wire } from 'webtorrent'
import type { Callback } from '../../shared/readOnlyChunkStore.ts'
import { blobChunkStore } from '../../web/lib/blobChunkStore.ts'
import { serverPeer, workerWebSeeds, type FromWebSeedWorker, type ToWebSeedWorker, type WebSeedWorker } from '../../web/lib/rangeWebSeed.ts'
import { hostWebSeed, type HostOptions, type WebSeedPort } from '../../web/workers/webSeed.worker.ts'
import { randomBytesSeeded, startTestServer, upload } from '../helpers/server.ts'

const P = 16 * 1024
/** 1 MiB and a short last piece: 65 pieces of 16 KiB, the last one 1234 bytes. */
const LENGTH = 64 * P + 1234
const PIECES = Math.ceil(LENGTH / P)
const BYTES = randomBytesSeeded(LENGTH, 42)
const LONG = 60_000 // a stall that never happens within a test
/** A streamer test that hangs fails on its own, not the whole file. */
const T = { timeout: 30_000 }

const sizeOf = (i: number): number => Math.min(P, LENGTH - i * P)
const pieceOf = (i: number): Uint8Array => BYTES.subarray(i * P, i * P + sizeOf(i))
/** The Range header that asks for pieces [from, to). */
const rangeOf = (from: number, to: number): string => `bytes=${from * P}-${Math.min(LENGTH, to * P) - 1}`
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)

// Every test must leave no rejection unhandled (the streamer's responses run unawaited).
const unhandled: unknown[] = []
process.on('unhandledRejection', reason => { unhandled.push(reason) })
afterEach(() => {
  assert.deepEqual(unhandled.splice(0).map(String), [], 'unhandled rejections')
})

async function until (what: string, cond: () => boolean, detail: () => string = () => '', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${detail()}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

// ---------------------------------------------------------------------------------------------
// A web seed on loopback

/**
 * How the server answers: `range` a correct 206; `whole` a 200 with the whole file, Range
 * ignored; `fail` a 500; `shifted` a 206 for the range one byte later than asked; `cut` a 206
 * whose socket is destroyed at `stopAt`; `short` a 206 without Content-Length (chunked) that
 * ends cleanly at `stopAt`.
 */
type Mode = 'range' | 'whole' | 'fail' | 'shifted' | 'cut' | 'short' | 'hidden'

interface Served {
  n: number
  range: string | undefined
  /** Body bytes handed to the socket. */
  written: number
  /** The whole body was written (res.end). */
  ended: boolean
  /** The response is over: ended, or closed by either side. */
  closed: boolean
}

interface SeedServer {
  url: string
  mode: Mode
  /** File offset where `cut` and `short` stop. */
  stopAt: number
  /** Before each 8 KiB of body (at that file offset): return a promise to hold the response there. */
  gate: ((served: Served, offset: number) => Promise<void> | undefined) | undefined
  served: Served[]
  /** Responses open now, and the most ever open at once (from the request until its body is all written, or it closed). */
  open: number
  maxOpen: number
  close: () => Promise<void>
}

const CHUNK = 8 * 1024

async function seedServer (t: TestContext): Promise<SeedServer> {
  const srv: SeedServer = {
    url: '',
    mode: 'range',
    stopAt: 0,
    gate: undefined,
    served: [],
    open: 0,
    maxOpen: 0,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  const server = http.createServer((req, res) => {
    const served: Served = { n: srv.served.length, range: req.headers.range, written: 0, ended: false, closed: false }
    srv.served.push(served)
    srv.open++
    srv.maxOpen = Math.max(srv.maxOpen, srv.open)
    const over = (): void => {
      if (served.closed) return
      served.closed = true
      srv.open--
    }
    const closed = new Promise<void>(resolve => res.once('close', () => { over(); resolve() }))
    const end = (chunk?: Uint8Array): void => {
      served.written += chunk?.length ?? 0
      served.ended = true
      res.end(chunk)
      over()
    }
    void (async () => {
      const mode = srv.mode
      if (mode === 'fail') {
        res.writeHead(500, { 'Content-Type': 'text/plain' })
        return end(new TextEncoder().encode('broken'))
      }
      if (mode === 'whole') {
        res.writeHead(200, { 'Content-Length': LENGTH, 'Accept-Ranges': 'bytes' })
        return end(BYTES)
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (!m || Number(m[2]) >= LENGTH || Number(m[1]) > Number(m[2])) {
        res.writeHead(416, { 'Content-Range': `bytes */${LENGTH}` })
        return end()
      }
      const shift = mode === 'shifted' ? 1 : 0
      const start = Number(m[1]) + shift
      const last = Math.min(LENGTH - 1, Number(m[2]) + shift)
      res.writeHead(206, {
        // 'hidden': what a page sees of a server on another origin that does not expose Content-Range.
        ...(mode === 'hidden' ? {} : { 'Content-Range': `bytes ${start}-${last}/${LENGTH}` }),
        ...(mode === 'short' ? {} : { 'Content-Length': last - start + 1 })
      })
      res.flushHeaders()
      for (let at = start; at <= last;) {
        const hold = srv.gate?.(served, at)
        if (hold) await Promise.race([hold, closed])
        if (served.closed) return
        if (mode === 'cut' && at >= srv.stopAt) return res.socket?.destroy()
        if (mode === 'short' && at >= srv.stopAt) return end()
        const next = Math.min(last + 1, (Math.floor(at / CHUNK) + 1) * CHUNK)
        const chunk = BYTES.subarray(at, next)
        at = next
        if (at > last) return end(chunk)
        served.written += chunk.length
        if (!res.write(chunk)) await Promise.race([new Promise(resolve => res.once('drain', resolve)), closed])
      }
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  srv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`
  t.after(srv.close)
  return srv
}

/** A promise the test settles by hand (to hold a response until then). */
function latch (): { promise: Promise<void>, open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>(resolve => { open = resolve })
  return { promise, open }
}
const forever = new Promise<void>(() => {})

const ranges = (srv: SeedServer): Array<string | undefined> => srv.served.map(s => s.range)
const seen = (srv: SeedServer): () => string => () => `(server saw ${JSON.stringify(ranges(srv))})`

// ---------------------------------------------------------------------------------------------
// The web seed worker (web/workers/webSeed.worker.ts), hosted on a MessageChannel

const sha1Hex = (bytes: Uint8Array): string => createHash('sha1').update(bytes).digest('hex')
const HASHES = range(0, PIECES).map(i => sha1Hex(pieceOf(i)))
/** The page's store groups here: 4 pieces each, 0-3, 4-7, … 64 (the last piece, alone and short). */
const GROUP = 4

interface Hosted {
  /** Every message the worker sent, in order. */
  got: FromWebSeedWorker[]
  tell: (msg: ToWebSeedWorker) => void
  ask: (indexes: number[]) => void
  /** The pieces the worker sent so far, by index. */
  pieces: () => Map<number, { batch: number, from: number, count: number }>
  failed: () => Map<number, string>
}

/** A worker on the far end of a MessageChannel. By default one fetch at a time, sized by growth alone (targetMs never limits it). */
function hosted (t: TestContext, srv: SeedServer, opts: HostOptions & { hashes?: string[], have?: number[] } = {}): Hosted {
  const { hashes = HASHES, have: had = [], ...hostOpts } = opts
  const { port1, port2 } = new MessageChannel()
  t.after(() => { port1.close(); port2.close() })
  hostWebSeed(port2 as unknown as WebSeedPort, { groupBytes: GROUP * P, maxFetches: 1, targetMs: LONG, timeoutMs: LONG, ...hostOpts })
  const got: FromWebSeedWorker[] = []
  port1.onmessage = ({ data }: MessageEvent<FromWebSeedWorker>) => { got.push(data) }
  const have = new Uint8Array(PIECES)
  for (const i of had) have[i] = 1
  const tell = (msg: ToWebSeedWorker): void => port1.postMessage(msg)
  tell({ type: 'init', url: srv.url, pieceLength: P, length: LENGTH, hashes, have })
  return {
    got,
    tell,
    ask: indexes => tell({ type: 'news', have: [], request: indexes }),
    pieces: () => {
      const out = new Map<number, { batch: number, from: number, count: number }>()
      got.forEach((m, batch) => { if (m.type === 'pieces') for (let i = m.from; i < m.from + m.count; i++) out.set(i, { batch, from: m.from, count: m.count }) })
      return out
    },
    failed: () => new Map(got.flatMap(m => m.type === 'failed' ? [[m.index, m.message] as const] : []))
  }
}

/** The bytes of every batch, checked against the file where it says they are. */
async function assertBatchesExact (got: FromWebSeedWorker[]): Promise<void> {
  for (const m of got) {
    if (m.type !== 'pieces') continue
    const bytes = new Uint8Array(await m.blob.arrayBuffer())
    assert.ok(Buffer.from(bytes).equals(BYTES.subarray(m.from * P, Math.min(LENGTH, (m.from + m.count) * P))), `batch ${m.from}+${m.count} differs from the file`)
  }
}

const answered = (w: Hosted, count: number): Promise<void> =>
  until(`${count} pieces answered`, () => w.pieces().size + w.failed().size >= count, () => JSON.stringify(w.got.map(m => m.type === 'pieces' ? [m.from, m.count] : m)))

describe('the web seed worker', () => {
  test('every piece asked for comes back verified and exact; a fetch stays within a store group, the first is one piece and each next at most 4× the last', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv)
    w.ask(range(0, PIECES))
    await answered(w, PIECES)
    assert.equal(w.failed().size, 0)
    await assertBatchesExact(w.got)
    // 1 piece, then 3 (the rest of group 0: 4× would cross it), then whole groups.
    const expected = [rangeOf(0, 1), rangeOf(1, 4), ...range(1, 16).map(g => rangeOf(g * GROUP, (g + 1) * GROUP)), rangeOf(64, 65)]
    assert.deepEqual(ranges(srv), expected)
    // Each fetch comes back as one Blob, as it came.
    assert.deepEqual(w.got.map(m => m.type === 'pieces' ? m.count : m), [1, 3, ...range(1, 16).map(() => 4), 1])
  })

  test('a fetch is sized to take targetMs at the last one\'s speed: with a target of 0 ms, one piece per fetch', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv, { targetMs: 0 })
    w.ask(range(0, 8))
    await answered(w, 8)
    assert.deepEqual(ranges(srv), range(0, 8).map(i => rangeOf(i, i + 1)))
    await assertBatchesExact(w.got)
  })

  test('fetches run two at a time at most (maxFetches), and every piece still comes exact', T, async t => {
    const srv = await seedServer(t)
    const release = latch()
    t.after(release.open)
    srv.gate = () => release.promise
    const w = hosted(t, srv, { maxFetches: 2, targetMs: 0 })
    w.ask([9, 3, 40, 0, 64, 12])
    await until('two responses', () => srv.served.length === 2, seen(srv))
    // Held: a third would have been asked for by now.
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(srv.served.length, 2)
    // The lowest pieces first.
    assert.deepEqual(ranges(srv), [rangeOf(0, 1), rangeOf(3, 4)])
    release.open()
    await answered(w, 6)
    assert.equal(w.failed().size, 0)
    assert.ok(srv.maxOpen <= 2, `${srv.maxOpen} responses open at once`)
    await assertBatchesExact(w.got)
  })

  test('a piece whose bytes do not match its SHA-1 fails, saying so; the pieces around it still come, as slices of the same Blob', T, async t => {
    const srv = await seedServer(t)
    const hashes = [...HASHES]
    hashes[5] = sha1Hex(new TextEncoder().encode('something else'))
    const w = hosted(t, srv, { hashes })
    w.ask(range(0, 12))
    await answered(w, 12)
    assert.deepEqual([...w.failed()], [[5, 'piece 5 from the web seed failed its SHA-1 check']])
    assert.deepEqual([...w.pieces().keys()].sort((a, b) => a - b), range(0, 12).filter(i => i !== 5))
    // The fetch of group 1 (pieces 4-7) comes back as 4 and 6-7.
    assert.deepEqual(w.got.filter(m => m.type === 'pieces').map(m => [m.from, m.count]), [[0, 1], [1, 3], [4, 1], [6, 2], [8, 4]])
    await assertBatchesExact(w.got)
  })

  test('only pieces asked for are fetched, never one the torrent has (init or news)', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv, { have: [5] })
    w.tell({ type: 'news', have: [9], request: [...range(0, 5), 6, 7, 8, 10, 11] })
    await answered(w, 10)
    assert.deepEqual(ranges(srv), [rangeOf(0, 1), rangeOf(1, 4), rangeOf(4, 5), rangeOf(6, 8), rangeOf(8, 9), rangeOf(10, 12)])
    await assertBatchesExact(w.got)
  })

  test('a piece outside the torrent is refused, saying so', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv)
    w.ask([PIECES, -1])
    await until('two failures', () => w.failed().size === 2)
    assert.equal(w.failed().get(PIECES), `piece ${PIECES} is not in this torrent`)
    assert.equal(srv.served.length, 0)
  })

  test('a 206 without a readable Content-Range (another origin) is taken when its length is the range\'s', T, async t => {
    const srv = await seedServer(t)
    srv.mode = 'hidden'
    const w = hosted(t, srv)
    w.ask(range(0, 8))
    await answered(w, 8)
    assert.equal(w.failed().size, 0)
    await assertBatchesExact(w.got)
  })

  describe('a web seed that misbehaves: the pieces of that fetch fail saying what happened, and come once it recovers', () => {
    const cases: Array<{ mode: Mode, name: string, stopAt?: number, message: RegExp }> = [
      { mode: 'whole', name: 'answers 200 with the whole file', message: /^the web seed answered 200 to a Range request for bytes 0-16383$/ },
      { mode: 'fail', name: 'answers 500', message: /^the web seed answered 500 to a Range request for bytes 0-16383$/ },
      { mode: 'shifted', name: 'answers 206 with another range', message: new RegExp(`^the web seed answered 206 \\(Content-Range: bytes 1-16384/${LENGTH}\\) to a Range request for bytes 0-16383$`) },
      // undici's own words ("terminated") in the brackets.
      { mode: 'cut', name: 'cuts the connection mid-body', stopAt: CHUNK, message: /^the web seed's response broke off \(.+\)$/ },
      { mode: 'short', name: 'ends the body early (cleanly, chunked)', stopAt: CHUNK, message: /^the web seed's response ended early: 8192 of 16384 bytes$/ }
    ]
    for (const { mode, name, stopAt, message } of cases) {
      test(name, T, async t => {
        const srv = await seedServer(t)
        srv.mode = mode
        srv.stopAt = stopAt ?? 0
        const w = hosted(t, srv)
        w.ask([0])
        await answered(w, 1)
        assert.match(w.failed().get(0) ?? '', message)
        srv.mode = 'range'
        w.ask(range(0, 4))
        await answered(w, 5)
        assert.deepEqual([...w.pieces().keys()].sort((a, b) => a - b), range(0, 4))
        await assertBatchesExact(w.got)
      })
    }

    test('is not there (connection refused)', T, async t => {
      const srv = await seedServer(t)
      await srv.close()
      const w = hosted(t, srv)
      w.ask([0, 1])
      await answered(w, 2)
      assert.match(w.failed().get(0) ?? '', /^the web seed could not be reached \(fetch failed\)$/)
    })

    test('sends nothing: the fetch fails after timeoutMs, and asked again the pieces come', T, async t => {
      const srv = await seedServer(t)
      srv.gate = s => s.n === 0 ? forever : undefined
      const w = hosted(t, srv, { timeoutMs: 300 })
      w.ask([0])
      await answered(w, 1)
      assert.equal(w.failed().get(0), 'the web seed: no answer within 0.3 s')
      w.ask(range(0, 4))
      await answered(w, 5)
      await assertBatchesExact(w.got)
    })
  })

  test('destroy: the fetch is aborted and nothing more is sent, not even failures for the pieces still owed', T, async t => {
    const srv = await seedServer(t)
    srv.gate = (s, at) => s.n === 1 && at === P ? forever : undefined
    const w = hosted(t, srv)
    w.ask(range(0, 8))
    await until('the first piece, and the second response held', () => w.pieces().size === 1 && srv.served.length === 2, seen(srv))
    const sent = w.got.length
    w.tell({ type: 'destroy' })
    await until('the response closed', () => srv.served[1]?.closed === true)
    w.ask(range(8, 12))
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(w.got.slice(sent), [])
    assert.equal(srv.served.length, 2)
  })
})

/**
 * How the client's web seed runs: in a worker, or with a worker that cannot start or that dies
 * half-way (WebTorrent's own web seed takes over).
 */
type Variant = 'worker' | 'no worker' | 'dying worker'

const TITLES: Record<Variant, string> = {
  worker: 'a real client downloads an upload from the server through a web seed worker: a handful of Range requests, every piece stored as the worker\'s Blobs, and the worker let go when the torrent is done',
  'no worker': 'a web seed worker that cannot start: WebTorrent\'s own web seed downloads the file, byte for byte',
  'dying worker': 'a web seed worker that dies half-way: the pieces it owed fail and WebTorrent\'s own web seed finishes the file, byte for byte'
}

describe('workerWebSeeds with WebTorrent and the Blob store', () => {
  for (const variant of Object.keys(TITLES) as Variant[]) {
    test(TITLES[variant], { timeout: 120_000 }, async t => { await realDownload(t, variant) })
  }
})

async function realDownload (t: TestContext, variant: Variant): Promise<void> {
  // Stopped in this order when the test ends: the client, then the proxy, then the server.
  const cleanup: Array<() => Promise<void>> = []
  t.after(async () => { for (const step of cleanup.reverse()) await step() })
  const server = await startTestServer()
  cleanup.push(async () => { await server.destroy() })
  const size = 3 * 2 ** 20 + 4321
  const bytes = randomBytesSeeded(size, 77)
  const res = await upload(server.url, bytes, { access_level: 'public' }, 'streamed.bin')
  assert.equal(res.status, 201, JSON.stringify(res.body))
  const mediaId: string = res.body.mediaId
  const torrentRes = await fetch(`${server.url}/api/media/${mediaId}/torrent`)
  assert.equal(torrentRes.status, 200)
  const served = await parseTorrent(new Uint8Array(await torrentRes.arrayBuffer()))
  const webSeed = `${server.url}/api/media/${mediaId}`
  assert.deepEqual(served.urlList, [webSeed])
  const pieces = served.pieces.length
  assert.ok(pieces >= 100, `${pieces} pieces`)

  // Every HTTP request of the web seed goes through a counting proxy, so requests WebTorrent
  // made on its own (its per-piece fallback does not use our fetch) are seen too.
  const proxied: Array<string | undefined> = []
  const proxy = http.createServer((req, res) => {
    proxied.push(req.headers.range)
    const up = http.request(new URL(req.url ?? '/', server.url), { method: req.method, headers: req.headers }, upRes => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => res.destroy())
    res.on('close', () => up.destroy())
    req.pipe(up)
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  cleanup.push(async () => {
    proxy.closeAllConnections()
    await new Promise<void>(resolve => proxy.close(() => resolve()))
  })
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api/media/${mediaId}`
  const torrentFile = toTorrentFile({ ...served, urlList: [proxyUrl] })

  const fetched: string[] = []
  const countingFetch: typeof fetch = async (input, init) => {
    fetched.push(new Headers(init?.headers).get('range') ?? '(none)')
    return await fetch(input, init)
  }

  // The worker runs here, on the far end of a MessageChannel (Node has no Web Workers).
  const ports: MessagePort[] = []
  cleanup.push(async () => { for (const port of ports) port.close() })
  let terminated = 0
  const spawn = (): WebSeedWorker => {
    if (variant === 'no worker') throw new Error('no Worker here')
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    hostWebSeed(port2 as unknown as WebSeedPort, { fetch: countingFetch })
    const worker = port1 as unknown as WebSeedWorker
    worker.terminate = () => { terminated++; port1.close() }
    if (variant === 'dying worker') {
      // Dies once it has sent a first batch, with more pieces asked of it.
      port1.addEventListener('message', () => {
        if (terminated === 0) queueMicrotask(() => worker.onerror?.({ message: 'out of memory' } as ErrorEvent))
      })
    }
    return worker
  }

  const client = new WebTorrent({ dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false })
  cleanup.push(async () => { await new Promise<void>(resolve => client.destroy(() => resolve())) })
  const store = blobChunkStore()
  let puts = 0
  const Store = class extends store.Store {
    override put (index: number, buf: Uint8Array<ArrayBuffer>, cb?: Callback): void {
      puts++
      super.put(index, buf, cb)
    }
  }
  const torrent: Torrent = client.add(torrentFile, { store: Store, storeCacheSlots: 0 })
  workerWebSeeds(torrent, { spawn, store: store.made })
  await new Promise<void>((resolve, reject) => {
    client.once('error', reject)
    torrent.once('error', reject)
    torrent.once('done', () => resolve())
    t.signal.addEventListener('abort', () => {
      reject(new Error(`download did not finish: progress ${torrent.progress}, fetched ${JSON.stringify(fetched)}, proxied ${proxied.length}`))
    }, { once: true })
  })

  const blob = store.made()?.blob('application/octet-stream')
  assert.ok(blob instanceof Blob, 'the store has no Blob when the torrent is done')
  assert.equal(blob.type, 'application/octet-stream')
  assert.equal(blob.size, size)
  assert.ok(Buffer.from(await blob.arrayBuffer()).equals(bytes), 'the Blob differs from the upload')

  t.diagnostic(`${fetched.length} streamed Range request(s) and ${proxied.length} in all for ${pieces} pieces; ${puts} pieces stored by WebTorrent`)
  if (variant === 'worker') {
    // Streamed ranges of many pieces each, not a request per piece. How many streams it takes
    // depends on how fast WebTorrent asks (a busy machine asks in smaller trickles), so the
    // bound is against the per-piece count, not a number of streams.
    assert.ok(fetched.length >= 1 && fetched.length <= pieces / 8, `${fetched.length} Range requests for ${pieces} pieces: ${JSON.stringify(fetched)}`)
    assert.ok(fetched.every(r => /^bytes=\d+-\d+$/.test(r)), JSON.stringify(fetched))
    // Nothing else reached the web seed: no per-piece requests of WebTorrent's own.
    assert.deepEqual([...proxied].sort(), [...fetched].sort())
  }
  if (variant === 'worker') {
    assert.equal(puts, 0, 'every piece should have come from the worker, as its Blobs')
    assert.equal(terminated, 1, 'the worker should be let go once the torrent is done')
  }
  // 1024 pieces in flight suit the worker; WebTorrent's own web seed gets the client's count back.
  assert.equal((torrent as unknown as { maxWebConns: number }).maxWebConns, variant === 'worker' ? 1024 : 4)
  if (variant === 'no worker') {
    assert.equal(fetched.length, 0)
    assert.equal(puts, pieces)
    assert.ok(proxied.length >= pieces, `${proxied.length} requests: WebTorrent's own web seed asks for each piece`)
  }
  if (variant === 'dying worker') {
    assert.equal(terminated, 1)
    assert.ok(puts > 0 && puts < pieces, `${puts} of ${pieces} pieces stored by WebTorrent: some should have come from the worker, the rest from WebTorrent's own web seed`)
    assert.ok(proxied.length > fetched.length, 'WebTorrent\'s own web seed should have fetched the rest')
  }
}

/**
 * A web seed and a peer with the same file: an upload to the real server (its .torrent, its web
 * seed read by a worker), and a second client seeding the file over TCP on loopback, added as a
 * peer once the torrent has its metadata (`addPeer`). `web`: the web seed answers, or holds every
 * request. `serverPeerMs`: the peer is named as the web seed's server, with that stall time.
 */
async function webSeedAndPeer (t: TestContext, opts: { web: 'answers' | 'holds', serverPeerMs?: number }) {
  const cleanup: Array<() => Promise<void>> = []
  t.after(async () => { for (const step of cleanup.reverse()) await step() })
  const server = await startTestServer()
  cleanup.push(async () => { await server.destroy() })
  const bytes = randomBytesSeeded(2 ** 20 + 321, 93)
  const res = await upload(server.url, bytes, { access_level: 'public' }, 'both.bin')
  assert.equal(res.status, 201, JSON.stringify(res.body))
  const torrentFile = new Uint8Array(await (await fetch(`${server.url}/api/media/${res.body.mediaId as string}/torrent`)).arrayBuffer())

  let held = 0
  const holding: typeof fetch = async (_input, init) => {
    held++
    return await new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error), { once: true }))
  }
  const ports: MessagePort[] = []
  cleanup.push(async () => { for (const port of ports) port.close() })
  let terminated = 0
  const spawn = (): WebSeedWorker => {
    const { port1, port2 } = new MessageChannel()
    ports.push(port1, port2)
    hostWebSeed(port2 as unknown as WebSeedPort, opts.web === 'holds' ? { fetch: holding } : {})
    const worker = port1 as unknown as WebSeedWorker
    worker.terminate = () => { terminated++; port1.close() }
    return worker
  }

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-peer-'))
  cleanup.push(async () => { await fs.rm(dir, { recursive: true, force: true }) })
  await fs.writeFile(path.join(dir, 'both.bin'), bytes)
  const clientOpts = { dht: false, tracker: false, lsd: false, utp: false, natUpnp: false, natPmp: false } as const
  const seeder = new WebTorrent(clientOpts)
  cleanup.push(async () => { await new Promise<void>(resolve => seeder.destroy(() => resolve())) })
  const seeding: Torrent = seeder.add(torrentFile, { path: dir })
  await new Promise<void>(resolve => seeding.once('done', () => resolve()))

  const client = new WebTorrent(clientOpts)
  cleanup.push(async () => { await new Promise<void>(resolve => client.destroy(() => resolve())) })
  const store = blobChunkStore()
  const torrent: Torrent = client.add(torrentFile, { store: store.Store, storeCacheSlots: 0 })
  workerWebSeeds(torrent, { spawn, store: store.made, stallMs: opts.serverPeerMs })
  if (opts.serverPeerMs !== undefined) serverPeer(torrent, (seeder as unknown as { peerId: string }).peerId)
  const counts = { fromPeer: 0, fromWebSeed: 0, peerAsked: false }
  torrent.on('wire', (wire: Wire) => {
    wire.on('download', (n: number) => { if (wire.type === 'webSeed') counts.fromWebSeed += n; else counts.fromPeer += n })
    // What WebTorrent asks of a wire goes through its request().
    const w = wire as unknown as { request: (...args: unknown[]) => unknown }
    const request = w.request.bind(w)
    w.request = (...args) => { if (wire.type !== 'webSeed') counts.peerAsked = true; return request(...args) }
  })
  await new Promise<void>(resolve => torrent.once('metadata', () => resolve()))
  return {
    bytes,
    torrent,
    counts,
    held: () => held,
    terminated: () => terminated,
    addPeer: () => (torrent as unknown as { addPeer: (addr: string) => boolean }).addPeer(`127.0.0.1:${(seeder as unknown as { torrentPort: number }).torrentPort}`),
    /** Waits for the torrent to be done and checks the file. */
    done: async (): Promise<void> => {
      if (!torrent.done) await new Promise<void>(resolve => torrent.once('done', () => resolve()))
      const blob = store.made()?.blob('application/octet-stream')
      assert.ok(Buffer.from(await blob!.arrayBuffer()).equals(bytes), 'the file differs from the upload')
    }
  }
}

test('pieces a peer sends answer the requests a stalled web seed worker holds: none is left hanging, and the worker is let go when the torrent is done', { timeout: 120_000 }, async t => {
  const s = await webSeedAndPeer(t, { web: 'holds' })
  // The web seed is asked first; the peer comes once the worker holds requests.
  await until('the worker to hold a request', () => s.held() > 0)
  s.addPeer()
  await s.done()
  const webSeedWire = s.torrent.wires.find(w => w.type === 'webSeed') as unknown as { requests: unknown[] } | undefined
  assert.ok(webSeedWire, 'the web seed is still connected')
  await until('the web seed\'s requests answered', () => webSeedWire.requests.length === 0, () => `${webSeedWire.requests.length} left`)
  assert.equal(s.terminated(), 1, 'the worker should be let go once the torrent is done')
  // Those answers clear the requests; they are not bytes from the web seed.
  assert.equal(s.counts.fromWebSeed, 0)
})

describe('the server\'s own WebRTC peer (serverPeer)', () => {
  test('while the web seed delivers, the server\'s peer is connected and asked for nothing', { timeout: 120_000 }, async t => {
    const s = await webSeedAndPeer(t, { web: 'answers', serverPeerMs: 500 })
    s.addPeer()
    await s.done()
    assert.ok(s.torrent.wires.some(w => w.type !== 'webSeed'), 'the server\'s peer is connected')
    assert.deepEqual(s.counts, { fromPeer: 0, fromWebSeed: s.bytes.length, peerAsked: false })
  })

  test('a web seed that stalls: after stallMs the server\'s peer is asked, and the file comes from it', { timeout: 120_000 }, async t => {
    const s = await webSeedAndPeer(t, { web: 'holds', serverPeerMs: 500 })
    s.addPeer()
    await s.done()
    assert.equal(s.counts.peerAsked, true)
    assert.equal(s.counts.fromWebSeed, 0)
    assert.ok(s.counts.fromPeer >= s.bytes.length, `${s.counts.fromPeer} bytes from the peer`)
  })
})
