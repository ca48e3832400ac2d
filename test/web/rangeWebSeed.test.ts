/**
 * The web app's streamed web seed (web/lib/rangeWebSeed.ts) in Node: RangeStreamer against a
 * small HTTP server that answers Range requests (and can be told to misbehave or to hold a
 * response at a byte), then a real WebTorrent client downloading from the real server with it
 * and the Blob store (web/lib/blobChunkStore.ts).
 *
 * Waits are for events and conditions only (generous timeouts that fail with what was seen);
 * where a test holds a response, the server holds it at a byte, never for a time.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, test, type TestContext } from 'node:test'
import parseTorrent, { toTorrentFile } from 'parse-torrent'
import WebTorrent, { type Torrent } from 'webtorrent'
import type { Callback } from '../../shared/readOnlyChunkStore.ts'
import { blobChunkStore } from '../../web/lib/blobChunkStore.ts'
import { RangeStreamer, streamWebSeeds, type FromWebSeedWorker, type PieceLayout, type RangeStreamerOptions, type ToWebSeedWorker, type WebSeedWorker } from '../../web/lib/rangeWebSeed.ts'
import { hostWebSeed, type WebSeedPort } from '../../web/workers/webSeed.worker.ts'
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

// ---------------------------------------------------------------------------------------------
// The streamer's side

/**
 * fetch with the responses it has open counted on the client's side: from the call until the
 * body is read to its end, cancelled, failed or aborted. (A server sees an aborted response
 * close some time later, when a new one may already have arrived: only this count is exact then.)
 */
interface Tracked { fetch: typeof fetch, ranges: string[], live: number, maxLive: number }

function trackedFetch (): Tracked {
  const t: Tracked = {
    ranges: [],
    live: 0,
    maxLive: 0,
    fetch: async (input, init) => {
      t.ranges.push(new Headers(init?.headers).get('range') ?? '(none)')
      t.live++
      t.maxLive = Math.max(t.maxLive, t.live)
      let over = false
      const end = (): void => { if (!over) { over = true; t.live-- } }
      init?.signal?.addEventListener('abort', end, { once: true })
      if (init?.signal?.aborted) end()
      let res: Response
      try {
        res = await fetch(input, init)
      } catch (err) {
        end()
        throw err
      }
      if (!res.body) { end(); return res }
      const reader = res.body.getReader()
      const body = new ReadableStream<Uint8Array>({
        async pull (c) {
          try {
            const { done, value } = await reader.read()
            if (done) { end(); c.close() } else c.enqueue(value)
          } catch (err) {
            end()
            c.error(err)
          }
        },
        async cancel (reason) {
          end()
          await reader.cancel(reason)
        }
      }, { highWaterMark: 0 })
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
    }
  }
  return t
}

type Outcome = { data: Uint8Array, err?: undefined } | { err: Error, data?: undefined }

/** A streamer and what it answered: every request's outcome, and any callback made twice. */
class Client {
  readonly streamer: RangeStreamer
  readonly have = new Set<number>()
  readonly outcomes = new Map<number, Outcome>()
  readonly problems: string[] = []

  constructor (url: string, opts: RangeStreamerOptions = {}) {
    const layout: PieceLayout = { pieceLength: P, length: LENGTH, has: i => this.have.has(i) }
    this.streamer = new RangeStreamer(url, layout, opts)
  }

  /** request() a whole piece; resolves with what its callback got (never rejects). */
  ask (index: number): Promise<Outcome> {
    return new Promise(resolve => {
      let calls = 0
      const taken = this.streamer.request(index, 0, sizeOf(index), (err, data) => {
        if (++calls > 1) this.problems.push(`piece ${index}: called back ${calls} times`)
        const outcome: Outcome = err ? { err } : { data: data! }
        if (!err && !(data instanceof Uint8Array)) this.problems.push(`piece ${index}: called back without bytes`)
        // As in WebTorrent: a piece that came is verified and the torrent has it.
        if (!err) this.have.add(index)
        this.outcomes.set(index, outcome)
        resolve(outcome)
      })
      if (!taken) {
        this.problems.push(`piece ${index}: request refused`)
        resolve({ err: new Error(`request(${index}) was refused`) })
      }
    })
  }

  /** Ask for a piece and check its bytes. */
  async piece (index: number): Promise<void> {
    const outcome = await this.ask(index)
    assert.equal(outcome.err, undefined, `piece ${index} failed: ${outcome.err?.message}`)
    assert.equal(outcome.data!.length, sizeOf(index), `piece ${index} length`)
    assert.ok(Buffer.from(outcome.data!).equals(pieceOf(index)), `piece ${index} bytes differ`)
  }

  async pieces (indexes: number[]): Promise<void> {
    await Promise.all(indexes.map(async i => { await this.piece(i) }))
  }

  /** Ask for a piece that must fail; returns the error. */
  async failure (index: number): Promise<Error> {
    const outcome = await this.ask(index)
    assert.ok(outcome.err instanceof Error, `piece ${index} should have failed, got ${outcome.data?.length} bytes`)
    return outcome.err
  }

  checked (): void {
    assert.deepEqual(this.problems, [])
  }
}

/** `promise`, or a failure after 20 s that says what the server saw (a stuck request is a failure, not a hang). */
async function within<V> (promise: Promise<V>, what: string, srv: SeedServer): Promise<V> {
  let done = false
  promise.then(() => { done = true }, () => { done = true })
  await until(what, () => done, () => `(${srv.served.length} responses opened: ${JSON.stringify(ranges(srv).slice(0, 8))}${srv.served.length > 8 ? ' …' : ''})`)
  return await promise
}

const ranges = (srv: SeedServer): Array<string | undefined> => srv.served.map(s => s.range)
const seen = (srv: SeedServer): () => string => () => `(server saw ${JSON.stringify(ranges(srv))})`

// ---------------------------------------------------------------------------------------------

describe('RangeStreamer', () => {
  test('all pieces asked at once (as WebTorrent does) come back exact from ceil(size / streamBytes) Range requests', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { streamBytes: 16 * P, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    await c.pieces(range(0, PIECES))
    c.checked()
    // 65 pieces, 16 per response: 5 responses, the 5th only the short last piece.
    const expected = [rangeOf(0, 16), rangeOf(16, 32), rangeOf(32, 48), rangeOf(48, 64), rangeOf(64, 65)]
    assert.equal(expected[4], `bytes=${64 * P}-${LENGTH - 1}`)
    assert.deepEqual([...ranges(srv)].sort(), [...expected].sort())
    assert.equal(c.streamer.opened, 5)
    // Four at once (the default maxStreams), the fifth once one of them was done.
    assert.ok(srv.maxOpen <= 4, `${srv.maxOpen} responses open at once`)
    assert.ok(srv.served.every(s => s.ended), 'every response was read to its end')
  })

  test('pieces asked one after another: one response per streamBytes, in order, one at a time', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { streamBytes: 16 * P, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    for (let i = 0; i < PIECES; i++) await c.piece(i)
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, 16), rangeOf(16, 32), rangeOf(32, 48), rangeOf(48, 64), rangeOf(64, 65)])
    assert.equal(c.streamer.opened, 5)
    assert.equal(srv.maxOpen, 1)
  })

  test('with the default limits one response carries the whole file', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url)
    t.after(() => c.streamer.destroy())
    for (let i = 0; i < PIECES; i++) await c.piece(i)
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
    assert.equal(c.streamer.opened, 1)
  })

  test('a request far ahead of a running response opens one there, and the first stops short of it', T, async t => {
    const srv = await seedServer(t)
    const tracked = trackedFetch()
    // The first response pauses after piece 1 (until released) and can never pass piece 50:
    // it must stop at piece 40, where the second one starts.
    const release = latch()
    srv.gate = (s, at) => s.n !== 0 ? undefined : at === 2 * P ? release.promise : at === 50 * P ? forever : undefined
    const c = new Client(srv.url, { joinBytes: 4 * P, stallMs: LONG, fetch: tracked.fetch })
    t.after(() => c.streamer.destroy())

    await c.piece(0)
    const far = c.piece(40)
    await until('the second response', () => srv.served.length === 2, seen(srv))
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES), rangeOf(40, PIECES)])
    await far
    release.open()
    // One by one (asked all at once, each more than joinBytes ahead would open a response of its own).
    for (const i of [...range(1, 40), ...range(41, PIECES)]) await c.piece(i)
    c.checked()
    await until('the first response to close', () => srv.served[0]!.closed)
    assert.equal(srv.served[0]!.ended, false, 'the first response was read to the end of the file')
    assert.ok(srv.served[0]!.written <= 50 * P)
    assert.equal(srv.served[1]!.ended, true)
    assert.equal(c.streamer.opened, 2)
    assert.deepEqual(tracked.ranges, [rangeOf(0, PIECES), rangeOf(40, PIECES)])
  })

  test('a request just ahead of a running response (within joinBytes) waits for it: no second response', T, async t => {
    const srv = await seedServer(t)
    const release = latch()
    srv.gate = (s, at) => s.n === 0 && at === 2 * P ? release.promise : undefined
    const c = new Client(srv.url, { joinBytes: 8 * P, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    await c.piece(0)
    const near = c.piece(7) // at most 7 pieces ahead of the response (it is at piece 1 or 2)
    release.open()
    await near
    for (const i of range(1, PIECES).filter(i => i !== 7)) await c.piece(i)
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('pieces the torrent has are not fetched: a response ends before them', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    for (let i = 10; i < 20; i++) c.have.add(i)
    c.have.add(30)
    await c.piece(0)
    assert.deepEqual(ranges(srv), [rangeOf(0, 10)])
    await c.pieces(range(1, 10)) // read ahead by the first response
    assert.equal(srv.served.length, 1)
    await c.piece(20)
    assert.deepEqual(ranges(srv), [rangeOf(0, 10), rangeOf(20, 30)])
    await c.pieces(range(21, 30))
    await c.piece(31)
    assert.deepEqual(ranges(srv), [rangeOf(0, 10), rangeOf(20, 30), rangeOf(31, PIECES)])
    await c.pieces(range(32, PIECES))
    // Asked for anyway, a piece the torrent has is fetched on its own (the next one is had too).
    await c.piece(12)
    assert.deepEqual(ranges(srv).at(-1), rangeOf(12, 13))
    c.checked()
  })

  test('the rest of a piece (a peer sent its first blocks) is served from the same response, waiting or read ahead', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    const rest = async (index: number, offset: number): Promise<void> => {
      const data = await new Promise<Uint8Array>((resolve, reject) => {
        assert.equal(c.streamer.request(index, offset, sizeOf(index) - offset, (err, d) => err ? reject(err) : resolve(d!)), true)
      })
      assert.ok(Buffer.from(data).equals(pieceOf(index).subarray(offset)), `piece ${index} from ${offset}`)
    }
    // Waiting: the whole piece and its rest, asked for together, both come from the one response.
    await Promise.all([rest(0, 4096), c.piece(0), rest(PIECES - 1, 1000)])
    const inside = c.streamer as unknown as { ahead: Map<number, unknown> }
    await until('pieces read ahead', () => inside.ahead.has(1), seen(srv))
    await rest(1, 2 * 4096) // read ahead
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('a request that does not run to the end of its piece, an empty one or an index outside the torrent is refused and never called back', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    const calls: string[] = []
    const cb = (what: string) => () => { calls.push(what) }
    const refused: Array<[number, number, number]> = [
      [0, 1, P - 2], // stops short of the piece's end
      [0, P, 0], // empty
      [0, 0, P - 1], // shorter than the piece
      [0, 0, P + 1],
      [0, 0, 0],
      [PIECES - 1, 0, P], // the last piece is short: a whole-length request is not a whole piece
      [PIECES - 1, 0, LENGTH - (PIECES - 1) * P - 1],
      [PIECES, 0, P], // past the end
      [PIECES + 10, 0, 1234],
      [-1, 0, P]
    ]
    for (const [index, offset, length] of refused) {
      assert.equal(c.streamer.request(index, offset, length, cb(`${index}/${offset}/${length}`)), false, `request(${index}, ${offset}, ${length})`)
    }
    // A whole piece afterwards is served, by the first and only response.
    await c.piece(PIECES - 1)
    await c.piece(3)
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(calls, [])
    // From piece 3 up to the last piece, which the torrent has by then.
    assert.deepEqual(ranges(srv), [rangeOf(PIECES - 1, PIECES), rangeOf(3, PIECES - 1)])
    c.checked()
  })

  test('a 206 without a readable Content-Range (another origin) is taken when its length is the range\'s', T, async t => {
    const srv = await seedServer(t)
    srv.mode = 'hidden'
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    await c.pieces(range(0, PIECES))
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('a run of requests reaching past joinBytes is one response, not a seek', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { streamBytes: 16 * P, joinBytes: 2 * P, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    await c.pieces(range(0, PIECES))
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, 16), rangeOf(16, 32), rangeOf(32, 48), rangeOf(48, 64), rangeOf(64, PIECES)])
  })

  test('a response that sends nothing for idleMs fails its pieces saying so; asked again, they come', T, async t => {
    const srv = await seedServer(t)
    const forever = new Promise<void>(() => {})
    srv.gate = (s, at) => s.n === 0 && at === 3 * P ? forever : undefined
    const c = new Client(srv.url, { idleMs: 1500, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    const outcomes = await Promise.all(range(0, 6).map(async i => await c.ask(i)))
    for (const i of range(0, 3)) assert.ok(Buffer.from(outcomes[i]!.data ?? []).equals(pieceOf(i)), `piece ${i}`)
    for (const o of outcomes.slice(3)) assert.equal(o.err?.message, 'the web seed sent nothing for 1.5 s, at piece 3')
    await c.pieces(range(3, PIECES))
    c.checked()
  })

  test('a piece read ahead is let go once the torrent has it from elsewhere (forget)', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    const inside = c.streamer as unknown as { ahead: Map<number, unknown> }
    await c.piece(0)
    await until('pieces read ahead', () => inside.ahead.size > 2, seen(srv))
    const held = [...inside.ahead.keys()]
    for (const i of held) c.streamer.forget(i)
    for (const i of held) assert.ok(!inside.ahead.has(i), `piece ${i} still held`)
  })

  describe('a web seed that misbehaves', () => {
    const cases: Array<{ mode: Mode, name: string, message: (first: number, last: number) => string }> = [
      { mode: 'whole', name: 'answers 200 with the whole file', message: (a, b) => `the web seed answered 200 to a Range request for bytes ${a}-${b}` },
      { mode: 'fail', name: 'answers 500', message: (a, b) => `the web seed answered 500 to a Range request for bytes ${a}-${b}` },
      { mode: 'shifted', name: 'answers 206 with another range', message: (a, b) => `the web seed answered 206 (Content-Range: bytes ${a + 1}-${LENGTH - 1}/${LENGTH}) to a Range request for bytes ${a}-${b}` }
    ]
    for (const { mode, name, message } of cases) {
      test(`${name}: every waiting request fails saying so, and requests succeed once it recovers`, T, async t => {
        const srv = await seedServer(t)
        srv.mode = mode
        const c = new Client(srv.url, { stallMs: LONG })
        t.after(() => c.streamer.destroy())
        const errors = await Promise.all(range(0, 4).map(async i => await c.failure(i)))
        for (const err of errors) assert.equal(err.message, message(0, LENGTH - 1))
        assert.equal(srv.served.length, 1)
        // Asked again while it still misbehaves: a new response, the same failure.
        assert.equal((await c.failure(2)).message, message(2 * P, LENGTH - 1))
        srv.mode = 'range'
        await c.pieces(range(0, PIECES))
        c.checked()
        assert.deepEqual(ranges(srv).slice(2), [rangeOf(0, PIECES)])
      })
    }

    test('cuts the connection mid-body: the pieces before the cut arrive, the rest fail with an Error', T, async t => {
      const srv = await seedServer(t)
      srv.mode = 'cut'
      srv.stopAt = 5 * P + CHUNK // half of piece 5 is sent
      const c = new Client(srv.url, { stallMs: LONG })
      t.after(() => c.streamer.destroy())
      const outcomes = await Promise.all(range(0, 12).map(async i => await c.ask(i)))
      for (const i of range(0, 5)) assert.ok(Buffer.from(outcomes[i]!.data ?? []).equals(pieceOf(i)), `piece ${i}`)
      const errors = outcomes.slice(5).map(o => o.err)
      for (const err of errors) assert.ok(err instanceof Error, 'a piece after the cut did not fail')
      assert.ok(errors.every(err => err === errors[0]), 'one error for all the pieces of the response')
      // Says where, with undici's own words ("terminated") after it.
      assert.match(errors[0]!.message, /^the web seed's response broke off at piece 5 \(.+\)$/)
      srv.mode = 'range'
      await c.pieces(range(5, PIECES))
      c.checked()
      assert.deepEqual(ranges(srv), [rangeOf(0, PIECES), rangeOf(5, PIECES)])
    })

    test('ends the body early (cleanly, chunked): the rest fail with "ended early, at piece N"', T, async t => {
      const srv = await seedServer(t)
      srv.mode = 'short'
      srv.stopAt = 5 * P + CHUNK
      const c = new Client(srv.url, { stallMs: LONG })
      t.after(() => c.streamer.destroy())
      const outcomes = await Promise.all(range(0, 12).map(async i => await c.ask(i)))
      for (const i of range(0, 5)) assert.ok(Buffer.from(outcomes[i]!.data ?? []).equals(pieceOf(i)), `piece ${i}`)
      for (const o of outcomes.slice(5)) assert.equal(o.err?.message, "the web seed's response ended early, at piece 5")
      srv.mode = 'range'
      await c.pieces(range(5, PIECES))
      c.checked()
    })

    test('is not there (connection refused): the request fails with an Error', T, async t => {
      const srv = await seedServer(t)
      await srv.close()
      const c = new Client(srv.url, { stallMs: LONG })
      t.after(() => c.streamer.destroy())
      const err = await c.failure(0)
      assert.match(err.message, /^the web seed could not be reached \(fetch failed\)$/)
      c.checked()
    })

    test('fails one response of several: only the pieces that response was to bring fail', T, async t => {
      const srv = await seedServer(t)
      // The second response (from piece 40) is cut; the first one, held until then, is fine.
      const release = latch()
      srv.gate = (s, at) => s.n === 0 && at === 2 * P ? release.promise : undefined
      const c = new Client(srv.url, { joinBytes: 4 * P, stallMs: LONG })
      t.after(() => c.streamer.destroy())
      await c.piece(0)
      srv.mode = 'cut'
      srv.stopAt = 42 * P
      const farOnes = range(40, 44).map(async i => await c.ask(i)) // 43 is less than joinBytes past 40
      await until('the second response', () => srv.served.length === 2, seen(srv))
      srv.mode = 'range'
      const far = await Promise.all(farOnes)
      assert.ok(Buffer.from(far[0]!.data ?? []).equals(pieceOf(40)))
      assert.ok(Buffer.from(far[1]!.data ?? []).equals(pieceOf(41)))
      for (const o of far.slice(2)) assert.ok(o.err instanceof Error, 'a piece after the cut did not fail')
      release.open()
      await c.pieces([...range(1, 40), ...range(42, PIECES)])
      c.checked()
    })
  })

  test('destroy(): waiting requests fail, the response is aborted, later requests are refused', T, async t => {
    const srv = await seedServer(t)
    srv.gate = (s, at) => s.n === 0 && at === 2 * P ? forever : undefined
    const tracked = trackedFetch()
    const c = new Client(srv.url, { stallMs: LONG, fetch: tracked.fetch })
    const asked = range(0, 10).map(async i => await c.ask(i))
    await until('pieces 0 and 1', () => c.outcomes.has(0) && c.outcomes.has(1))
    c.streamer.destroy()
    const outcomes = await Promise.all(asked)
    for (const i of [0, 1]) assert.ok(Buffer.from(outcomes[i]!.data ?? []).equals(pieceOf(i)), `piece ${i}`)
    for (const o of outcomes.slice(2)) assert.equal(o.err?.message, 'the web seed was removed')
    await until('the response to close', () => srv.served[0]!.closed)
    assert.equal(srv.served[0]!.ended, false)
    assert.equal(tracked.live, 0)
    const late: string[] = []
    assert.equal(c.streamer.request(0, 0, P, () => { late.push('0') }), false)
    assert.equal(c.streamer.request(20, 0, P, () => { late.push('20') }), false)
    c.streamer.destroy() // twice is harmless
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(late, [])
    assert.equal(srv.served.length, 1)
    c.checked()
  })

  test('destroy() before the response has any body: the request fails and nothing is left open', T, async t => {
    const srv = await seedServer(t)
    srv.gate = (_s, _at) => forever
    const tracked = trackedFetch()
    const c = new Client(srv.url, { stallMs: LONG, fetch: tracked.fetch })
    const asked = c.ask(5)
    await until('the request', () => srv.served.length === 1)
    c.streamer.destroy()
    assert.equal((await asked).err?.message, 'the web seed was removed')
    await until('the response to close', () => srv.served[0]!.closed)
    assert.equal(tracked.live, 0)
    c.checked()
  })

  test('stall: a response whose read-ahead nobody takes is closed; a later piece still comes exact', T, async t => {
    const srv = await seedServer(t)
    // Read-ahead of one piece, given up on quickly; the first response never sends past piece 7.
    srv.gate = (s, at) => s.n === 0 && at === 8 * P ? forever : undefined
    const c = new Client(srv.url, { aheadBytes: P, stallMs: 50 })
    t.after(() => c.streamer.destroy())
    await c.piece(0)
    await until('the stalled response to close', () => srv.served[0]!.closed, seen(srv))
    assert.equal(srv.served[0]!.ended, false, 'the response was read to its end: nothing stalled')
    assert.equal(c.streamer.opened, 1)
    // Piece 1 was read ahead and is still there; piece 10 needs a new response.
    await within(c.piece(10), 'piece 10', srv)
    assert.equal(srv.served[1]?.range, rangeOf(10, PIECES))
    const before = srv.served.length
    await c.piece(1)
    assert.equal(srv.served.length, before, 'the read-ahead piece was fetched again')
    // The rest, one by one: whatever stalls on the way, every piece comes exact.
    for (const i of [...range(2, 10), ...range(11, PIECES)]) await c.piece(i)
    c.checked()
  })

  test('a request further ahead than the read-ahead allows, but within joinBytes, is served', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { aheadBytes: P, stallMs: 50 })
    t.after(() => c.streamer.destroy())
    // Pieces 1-4 must be read (ahead) to reach 5: more than one piece of read-ahead.
    await within(c.pieces([0, 5]), 'pieces 0 and 5', srv)
    await c.pieces(range(1, 5))
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('a request joining a response held back by its full read-ahead wakes it at once (no new response, no stall)', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { aheadBytes: P, stallMs: LONG })
    t.after(() => c.streamer.destroy())
    await c.piece(0)
    const inside = c.streamer as unknown as { ahead: Map<number, unknown>, wakers: unknown[] }
    await until('the response to be held back by its read-ahead', () => inside.ahead.size > 0 && inside.wakers.length === 1, seen(srv))
    assert.ok(!inside.ahead.has(6))
    await within(c.piece(6), 'piece 6', srv)
    await c.pieces(range(1, 6))
    c.checked()
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('a request joining a response that waits on its read-ahead is served', T, async t => {
    const srv = await seedServer(t)
    const c = new Client(srv.url, { aheadBytes: P, stallMs: 200 })
    t.after(() => c.streamer.destroy())
    await c.piece(0)
    await within(c.piece(6), 'piece 6', srv) // the response may wait on piece 1 by now (or have stalled)
    await c.pieces(range(1, 6))
    c.checked()
  })

  test('a second request for a piece already waited on is answered too (WebTorrent\'s hotswap can give a piece back to the web seed)', T, async t => {
    const srv = await seedServer(t)
    const release = latch()
    srv.gate = (s, at) => s.n === 0 && at === 0 ? release.promise : undefined
    const c = new Client(srv.url, { stallMs: LONG })
    t.after(() => c.streamer.destroy())
    let first = 0
    assert.equal(c.streamer.request(3, 0, P, () => { first++ }), true)
    const second = c.ask(3)
    release.open()
    await second
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(first, 1, 'the first callback for piece 3 was never called')
  })

  describe('maxStreams', () => {
    test('1: a far request waits while the response has work, then gets the next one', T, async t => {
      const srv = await seedServer(t)
      const tracked = trackedFetch()
      const release = latch()
      srv.gate = (s, at) => s.n === 0 && at === 2 * P ? release.promise : undefined
      const c = new Client(srv.url, { maxStreams: 1, streamBytes: 8 * P, stallMs: LONG, fetch: tracked.fetch })
      t.after(() => c.streamer.destroy())
      const first = c.pieces([0, 3])
      const far = c.piece(30)
      await until('the first piece', () => c.outcomes.has(0))
      assert.deepEqual(ranges(srv), [rangeOf(0, 8)])
      assert.equal(c.outcomes.has(30), false)
      release.open()
      await Promise.all([first, far])
      assert.deepEqual(ranges(srv), [rangeOf(0, 8), rangeOf(30, 38)])
      // All the rest at once: one response after the other.
      await c.pieces([1, 2, ...range(4, 30), ...range(31, PIECES)])
      c.checked()
      assert.equal(srv.maxOpen, 1, `${srv.maxOpen} responses were open at once on the server`)
      assert.equal(tracked.maxLive, 1, `${tracked.maxLive} responses were open at once in the client`)
      assert.equal(srv.served.length, c.streamer.opened)
    })

    test('1: a response nobody waits on is closed to make room for a far request', T, async t => {
      const srv = await seedServer(t)
      const tracked = trackedFetch()
      // The first response never sends past piece 1: only closing it makes room.
      srv.gate = (s, at) => s.n === 0 && at === 2 * P ? forever : undefined
      const c = new Client(srv.url, { maxStreams: 1, joinBytes: 4 * P, stallMs: LONG, fetch: tracked.fetch })
      t.after(() => c.streamer.destroy())
      await c.piece(0)
      await c.piece(40)
      assert.deepEqual(ranges(srv), [rangeOf(0, PIECES), rangeOf(40, PIECES)])
      await until('the first response to close', () => srv.served[0]!.closed)
      assert.equal(srv.served[0]!.ended, false)
      await c.pieces([...range(1, 40), ...range(41, PIECES)])
      c.checked()
      // Counted where it is exact: the client aborts the idle response before it opens the next;
      // the server may see the abort after the new request has arrived.
      assert.equal(tracked.maxLive, 1, `${tracked.maxLive} responses were open at once in the client`)
      assert.equal(tracked.live, 0)
    })

    test('2: many scattered requests never open more than 2 responses, and all come exact', T, async t => {
      const srv = await seedServer(t)
      const tracked = trackedFetch()
      const c = new Client(srv.url, { maxStreams: 2, streamBytes: 6 * P, joinBytes: 2 * P, aheadBytes: 2 * P, stallMs: LONG, fetch: tracked.fetch })
      t.after(() => c.streamer.destroy())
      const order = range(0, PIECES).sort((a, b) => ((a * 37) % PIECES) - ((b * 37) % PIECES))
      await c.pieces(order)
      c.checked()
      assert.ok(tracked.maxLive <= 2, `${tracked.maxLive} responses were open at once in the client`)
    })
  })
})

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// The web seed worker's side (web/workers/webSeed.worker.ts), hosted on a MessageChannel

const sha1Hex = (bytes: Uint8Array): string => createHash('sha1').update(bytes).digest('hex')
const HASHES = range(0, PIECES).map(i => sha1Hex(pieceOf(i)))
/** 4 pieces per batch: groups 0-3, 4-7, … 64 (the last piece, alone and short). */
const BATCH = 4

interface Hosted {
  /** Every message the worker sent, in order. */
  got: FromWebSeedWorker[]
  tell: (msg: ToWebSeedWorker) => void
  /** The pieces the worker sent so far, by index. */
  pieces: () => Map<number, { batch: number, from: number, count: number }>
  failed: () => Map<number, string>
}

function hosted (t: TestContext, srv: SeedServer, opts: { hashes?: string[], have?: number[], batchMs?: number } = {}): Hosted {
  const { port1, port2 } = new MessageChannel()
  t.after(() => { port1.close(); port2.close() })
  hostWebSeed(port2 as unknown as WebSeedPort, { batchBytes: BATCH * P, batchMs: opts.batchMs ?? LONG, stallMs: LONG, idleMs: LONG })
  const got: FromWebSeedWorker[] = []
  port1.onmessage = ({ data }: MessageEvent<FromWebSeedWorker>) => { got.push(data) }
  const have = new Uint8Array(PIECES)
  for (const i of opts.have ?? []) have[i] = 1
  const tell = (msg: ToWebSeedWorker): void => port1.postMessage(msg)
  tell({ type: 'init', url: srv.url, pieceLength: P, length: LENGTH, hashes: opts.hashes ?? HASHES, have })
  return {
    got,
    tell,
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

describe('the web seed worker', () => {
  test('every piece asked for comes back verified, in Blobs that end where the page\'s store groups end', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv)
    w.tell({ type: 'news', have: [], request: range(0, PIECES) })
    await until('every piece', () => w.pieces().size === PIECES, () => JSON.stringify(w.failed()))
    assert.equal(w.failed().size, 0)
    await assertBatchesExact(w.got)
    for (const m of w.got) {
      if (m.type !== 'pieces') continue
      const end = m.from + m.count
      assert.ok(m.count <= BATCH && (end % BATCH === 0 || end === PIECES), `batch ${m.from}+${m.count} does not end at a group's end`)
    }
    // No time limit forced a batch out early here: the groups are whole.
    assert.equal(w.got.length, Math.ceil(PIECES / BATCH))
    assert.deepEqual(ranges(srv), [rangeOf(0, PIECES)])
  })

  test('a piece whose bytes do not match its SHA-1 fails, saying so; the pieces around it still come', T, async t => {
    const srv = await seedServer(t)
    const hashes = [...HASHES]
    hashes[5] = sha1Hex(new TextEncoder().encode('something else'))
    const w = hosted(t, srv, { hashes })
    w.tell({ type: 'news', have: [], request: range(0, 12) })
    await until('pieces 0-11 answered', () => w.pieces().size + w.failed().size === 12, () => JSON.stringify(w.got.map(m => m.type)))
    assert.deepEqual([...w.failed().keys()], [5])
    assert.match(w.failed().get(5)!, /piece 5 from the web seed failed its SHA-1 check/)
    assert.deepEqual([...w.pieces().keys()].sort((a, b) => a - b), range(0, 12).filter(i => i !== 5))
    await assertBatchesExact(w.got)
  })

  test('pieces the torrent has (init and news) are not fetched: responses stop short of them', T, async t => {
    const srv = await seedServer(t)
    const w = hosted(t, srv, { have: [5] })
    w.tell({ type: 'news', have: [9], request: [...range(0, 5), 6, 7, 8] })
    await until('pieces 0-4 and 6-8', () => w.pieces().size === 8, () => JSON.stringify(w.failed()))
    assert.deepEqual(ranges(srv), [rangeOf(0, 5), rangeOf(6, 9)])
    await assertBatchesExact(w.got)
  })

  test('a piece arriving slowly does not hold back the ones before it: a batch goes out after batchMs, whole or not', T, async t => {
    const srv = await seedServer(t)
    const release = latch()
    t.after(release.open)
    srv.gate = (_s, at) => at === 2 * P ? release.promise : undefined
    const w = hosted(t, srv, { batchMs: 20 })
    w.tell({ type: 'news', have: [], request: range(0, 4) })
    await until('pieces 0 and 1, before the group is whole', () => w.pieces().size === 2)
    assert.deepEqual(w.got.map(m => m.type === 'pieces' ? [m.from, m.count] : m), [[0, 2]])
    release.open()
    await until('pieces 2 and 3', () => w.pieces().size === 4)
    await assertBatchesExact(w.got)
  })

  test('a web seed that fails: each piece asked for fails with what went wrong; one outside the torrent is refused', T, async t => {
    const srv = await seedServer(t)
    srv.mode = 'fail'
    const w = hosted(t, srv)
    w.tell({ type: 'news', have: [], request: [0, 1, PIECES] })
    await until('three failures', () => w.failed().size === 3, () => JSON.stringify(w.got))
    assert.match(w.failed().get(0)!, /answered 500/)
    assert.match(w.failed().get(1)!, /answered 500/)
    assert.match(w.failed().get(PIECES)!, new RegExp(`piece ${PIECES} is not in this torrent`))
    assert.equal(w.pieces().size, 0)
  })

  test('destroy: the response is aborted and nothing more is sent, not even failures for the pieces still owed', T, async t => {
    const srv = await seedServer(t)
    srv.gate = (_s, at) => at === 2 * P ? forever : undefined
    const w = hosted(t, srv, { batchMs: 10 })
    w.tell({ type: 'news', have: [], request: range(0, 8) })
    await until('the first pieces', () => w.pieces().size === 2)
    // Pieces 2-7 are owed, and the response is held before piece 2: nothing else can come now.
    const sent = w.got.length
    w.tell({ type: 'destroy' })
    await until('the response closed', () => srv.served[0]?.closed === true)
    w.tell({ type: 'news', have: [], request: range(8, 12) })
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(w.got.slice(sent), [])
    assert.equal(srv.served.length, 1)
  })
})

/**
 * How the client's web seed runs: in the page (WebTorrent checks the pieces), in a worker, or
 * with a worker that cannot start or that dies half-way (WebTorrent's own web seed takes over).
 */
type Variant = 'page' | 'worker' | 'no worker' | 'dying worker'

const TITLES: Record<Variant, string> = {
  page: 'a real client downloads an upload from the server in a handful of Range requests, into one Blob',
  worker: 'through a web seed worker: a handful of Range requests, every piece stored as the worker\'s Blobs, and the worker let go when the torrent is done',
  'no worker': 'a web seed worker that cannot start: WebTorrent\'s own web seed downloads the file, byte for byte',
  'dying worker': 'a web seed worker that dies half-way: the pieces it owed fail and WebTorrent\'s own web seed finishes the file, byte for byte'
}

describe('streamWebSeeds with WebTorrent and the Blob store', () => {
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
  streamWebSeeds(torrent, variant === 'page' ? { fetch: countingFetch } : { verified: { spawn, store: store.made } })
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
  if (variant === 'page' || variant === 'worker') {
    assert.ok(fetched.length >= 1 && fetched.length <= 5, `${fetched.length} Range requests for ${pieces} pieces: ${JSON.stringify(fetched)}`)
    assert.ok(fetched.every(r => /^bytes=\d+-\d+$/.test(r)), JSON.stringify(fetched))
    // Nothing else reached the web seed: no per-piece requests of WebTorrent's own.
    assert.deepEqual([...proxied].sort(), [...fetched].sort())
  }
  if (variant === 'page') assert.equal(puts, pieces, 'WebTorrent stores each piece it checked')
  if (variant === 'worker') {
    assert.equal(puts, 0, 'every piece should have come from the worker, as its Blobs')
    assert.equal(terminated, 1, 'the worker should be let go once the torrent is done')
  }
  // 1024 pieces in flight suit a streamed web seed; WebTorrent's own gets the client's count back.
  assert.equal((torrent as unknown as { maxWebConns: number }).maxWebConns, variant === 'page' || variant === 'worker' ? 1024 : 4)
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
