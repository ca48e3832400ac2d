/**
 * The crash test of issue #19: a few keys run a mixed workload against the real server process
 * (public and private uploads of the same bytes under different keys and names, claims, deletes,
 * pins, access changes, resumable uploads left half-done and resumed), and the server is killed
 * with SIGKILL at a random moment, CRASH_KILLS times (at least 50), restarting over the same
 * folders each time. After every start the server must agree with what its clients were told:
 * - every record answered 2xx is there, nothing deleted comes back, and a request cut by the
 *   kill (in doubt) did all or nothing;
 * - every listed file serves bytes whose SHA-256 is its id;
 * - every public file is listed and seeded (active or idle), and its listing, /info and .torrent
 *   name the same infoHash; every private record's torrent is seeded and is not the public one;
 * - nobody else sees a private file (404 for info, .torrent and bytes) or a private name;
 * - the seeder seeds as many public torrents as there are public files;
 * - a resumable upload keeps every byte acknowledged (and has none it was never sent);
 * - a blob nobody holds is gone from MEDIA_DIR within ORPHAN_DEADLINE_MS of the start
 *   ("eventually": ORPHAN_BLOB_GRACE is 1 s here, and the server collects at start and every
 *   half grace).
 * The choices (bytes, operations, names, when each kill comes) come from CRASH_SEED, printed at the end:
 * the same seed makes the same choices, while where a kill lands among the requests in flight
 * depends on timing. Violations are gathered, printed by kind with what happened to the file
 * before, and fail the test at the end.
 */
import assert from 'node:assert/strict'
import { createHash, randomInt } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import type { Identity } from '../../shared/wallet.ts'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { Holdings, type AccessLevel, type Holding, type Seen } from '../helpers/holdings.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { randomBytesSeeded, tempDir, upload } from '../helpers/server.ts'
import { createUpload, head, patch } from '../helpers/tus.ts'

const KILLS = Math.max(50, Number(process.env.CRASH_KILLS ?? 50))
const SEED = Number(process.env.CRASH_SEED ?? randomInt(2 ** 31))
assert.ok(Number.isSafeInteger(KILLS) && Number.isSafeInteger(SEED), 'CRASH_KILLS and CRASH_SEED must be whole numbers')
const KEYS = 4
/** Each key's clients run at once, each over its own share of the contents (so one key's requests for one file come in order). */
const CLIENTS_PER_KEY = 2
const CONTENTS = 12
const TUS_CHUNK = 16 * 1024
/**
 * Each kill comes after a random number of answers since the start (0: amid the start's own
 * background work), then a random delay, so it lands among the requests in flight; counting
 * answers rather than time makes each run do the same amount of work however busy the machine.
 */
const MAX_ANSWERS_BEFORE_KILL = 60
const MAX_KILL_DELAY_MS = 50
const ORPHAN_GRACE = '1s'
/** Grace (1 s) + the collector's interval (0.5 s), with room for a busy machine. */
const ORPHAN_DEADLINE_MS = 10_000
/** The type private uploads are sent with: it must never show on a public face. */
const PRIVATE_TYPE = 'application/x-private-upload'
const PARALLEL_CHECKS = 6

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const seconds = (ms: number): string => (ms / 1000).toFixed(1)

/** mulberry32: a small seeded generator, so CRASH_SEED repeats the choices. */
function generator (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Run `fn` over `items`, a few at a time. */
async function each<T> (items: Iterable<T>, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items]
  await Promise.all(Array.from({ length: PARALLEL_CHECKS }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item)
  }))
}

interface Key {
  label: string
  identity: Identity
  /** The session of the current start (tokens name the server's origin, and its port changes). */
  token: string
}

/** A resumable upload as its client knows it. */
interface TusUpload {
  path: string
  content: number
  access: AccessLevel
  name: string
  /** The offset the last answered PATCH gave. */
  acked: number
  /** How far the client has sent (more than acked while a PATCH is cut). */
  sent: number
  /** It was open across a kill. */
  crossedKill: boolean
}

/** One of a key's clients (a browser tab): its own sequence of requests, over its own share of the contents. */
interface Client {
  label: string
  key: Key
  share: number[]
  pick: () => number
  names: number
  tus: TusUpload[]
}

/** An answer as the workload reads it. */
interface Answer { status: number, headers: Headers, body: any }

/** `before`: how many lines of the file's history there were when it was found. */
interface Violation { kind: string, cycle: number, mediaId?: string, before?: number, detail: string }

/** Thrown when a request got no answer: the kill cut it (or the server died by itself). */
class Cut extends Error {}

test(`crash torture: ${KILLS} kill -9s during a mixed workload, every invariant checked after each start`, { timeout: KILLS * 60_000 }, async () => {
  const dir = await tempDir('oip-crash-')
  const media = path.join(dir, 'media')
  let server: ServerProcess | undefined
  const kill = async (): Promise<void> => {
    if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return
    server.child.kill('SIGKILL')
    await server.exited
  }
  after(async () => {
    await kill()
    await fs.rm(dir, { recursive: true, force: true })
  })

  const started = performance.now()
  const pick = generator(SEED)
  const between = (min: number, max: number, p = pick): number => min + Math.floor(p() * (max - min + 1))
  const oneOf = <T>(items: T[], p: () => number): T => items[between(0, items.length - 1, p)]!
  const contents = Array.from({ length: CONTENTS }, (_, i) => randomBytesSeeded(between(1_000, 120_000), SEED + i + 1))
  const ids = contents.map(sha256)
  const holdings = new Holdings()
  const privateNames = new Set<string>()
  const violations: Violation[] = []
  /** mediaId → what was done to it and answered, in order. */
  const history = new Map<string, string[]>()
  const counts = { acknowledged: 0, inDoubt: 0, refused: 0, kills: 0, tusCompleted: 0, tusResumedAfterKill: 0 }
  const byOp = new Map<string, { acknowledged: number, inDoubt: number, refused: number }>()
  /** Where the time goes (ms): starting the server, checking it, the workload until the kill. */
  const spent = { starting: 0, checking: 0, working: 0 }
  let cycle = 0
  let base = ''
  let stopping = false
  /** Answers since this start, and who waits for the next one. */
  let answers = 0
  let nextAnswer: (() => void) | undefined

  const timed = async <T>(phase: keyof typeof spent, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now()
    try { return await fn() } finally { spent[phase] += performance.now() - t }
  }
  const note = (mediaId: string, text: string): void => {
    history.set(mediaId, [...history.get(mediaId) ?? [], `start #${cycle}: ${text}`])
  }
  const violation = (kind: string, detail: string, mediaId?: string): void => {
    violations.push({ kind, cycle, detail, ...(mediaId ? { mediaId, before: history.get(mediaId)?.length ?? 0 } : {}) })
  }
  const answered = (): void => {
    answers++
    nextAnswer?.()
  }
  const tally = (op: string, outcome: 'acknowledged' | 'inDoubt' | 'refused'): void => {
    if (outcome !== 'inDoubt') answered()
    counts[outcome]++
    const o = byOp.get(op) ?? { acknowledged: 0, inDoubt: 0, refused: 0 }
    o[outcome]++
    byOp.set(op, o)
  }
  const unexpected = (c: Client, op: string, mediaId: string, res: Answer): void => {
    answered()
    note(mediaId, `${c.label} ${op}: ${res.status}`)
    violation('unexpected_answer', `${c.label} ${op}: ${res.status} ${JSON.stringify(res.body)}`, mediaId)
  }
  /** One request of a client; no answer means it is in doubt (`ifApplied` says how), and the client stops until the next start. */
  const send = async (c: Client, op: string, mediaId: string, request: () => Promise<Answer>, ifApplied?: () => void): Promise<Answer> => {
    try {
      return await request()
    } catch (err) {
      tally(op, 'inDoubt')
      note(mediaId, `${c.label} ${op}: no answer (in doubt)`)
      ifApplied?.()
      if (!stopping) violation('connection_failed', `${c.label} ${op}: ${(err as Error).message} while the server was meant to be up`, mediaId)
      throw new Cut()
    }
  }
  const answer = async (res: Response): Promise<Answer> => {
    const text = await res.text()
    let body: any = text
    try { body = JSON.parse(text) } catch {}
    return { status: res.status, headers: res.headers, body }
  }
  const api = async (p: string, token?: string, init: RequestInit = {}): Promise<Response> =>
    await fetch(`${base}${p}`, { ...init, headers: { ...bearer(token), ...init.headers as Record<string, string> } })

  const keys: Key[] = await Promise.all(Array.from({ length: KEYS }, async (_, i) => ({ label: `k${i}`, identity: await newIdentity(), token: '' })))
  const clients: Client[] = keys.flatMap((key, i) => Array.from({ length: CLIENTS_PER_KEY }, (_, j) => ({
    label: `${key.label}.${j}`,
    key,
    share: ids.map((_, n) => n).filter(n => n % CLIENTS_PER_KEY === j),
    pick: generator(SEED * 31 + i * CLIENTS_PER_KEY + j),
    names: 0,
    tus: []
  })))
  const nameFor = (c: Client, access: AccessLevel): string => {
    const name = `${access === 'private' ? 'secret' : 'pub'}-${c.label}-${++c.names}.bin`
    if (access === 'private') privateNames.add(name)
    return name
  }
  const typeFor = (access: AccessLevel): string => access === 'private' ? PRIVATE_TYPE : 'text/plain'
  /** The client's key's records among the client's share of the contents. */
  const heldBy = (c: Client): Array<[string, Holding]> => holdings.held(c.key.label).filter(([id]) => c.share.includes(ids.indexOf(id)))

  /** The record an answered upload, claim or finished resumable upload leaves: the old one, or a new one. */
  const made = (c: Client, mediaId: string, before: Holding | null, access: AccessLevel, name: string, result?: { accessLevel: string, infoHash: string }): void => {
    const after = before ?? { access, name, pinned: false }
    if (result && result.accessLevel !== after.access) violation('record_changed', `${c.label} held ${JSON.stringify(before)}; the answer says ${result.accessLevel}`, mediaId)
    if (!before && access === 'private' && result) after.privateInfoHash = result.infoHash
    holdings.set(c.key.label, mediaId, after)
  }

  // ---- the operations: each is one request (two for an access change), answered or cut ----

  async function uploadOp (c: Client, content: number, access: AccessLevel, op = `upload ${access}`): Promise<void> {
    const mediaId = ids[content]!
    const name = nameFor(c, access)
    const before = holdings.get(c.key.label, mediaId)
    const res = await send(c, op, mediaId, async () => {
      const { status, body } = await upload(base, contents[content]!, { access_level: access, name }, name, typeFor(access), c.key.token)
      return { status, body, headers: new Headers() }
    }, () => holdings.doubt(c.key.label, mediaId, before ?? { access, name, pinned: false }))
    uploadAnswered(c, op, mediaId, res, before, access, name)
  }

  async function claimOp (c: Client, content: number, access: AccessLevel): Promise<void> {
    const mediaId = ids[content]!
    const name = nameFor(c, access)
    const before = holdings.get(c.key.label, mediaId)
    const op = `claim ${access}`
    const res = await send(c, op, mediaId, async () => await answer(await api(`/api/media/${mediaId}/claim`, c.key.token, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_level: access, name, original_name: name, mime_type: typeFor(access) })
    })), () => holdings.doubt(c.key.label, mediaId, before ?? { access, name, pinned: false }))
    // Someone else's private file, or bytes nobody holds: the same 404 as a missing id.
    if (res.status === 404 && !before) {
      tally(op, 'refused')
      note(mediaId, `${c.label} ${op}: 404`)
      return
    }
    uploadAnswered(c, op, mediaId, res, before, access, name)
  }

  /** An upload's or claim's answer: 201 for a new record, 200 for one the key had; 409 if the bytes were deleted meanwhile. */
  function uploadAnswered (c: Client, op: string, mediaId: string, res: Answer, before: Holding | null, access: AccessLevel, name: string): void {
    if (res.status === 200 || res.status === 201) {
      if (res.status !== (before ? 200 : 201)) violation('unexpected_answer', `${c.label} ${op}: ${res.status}, but the key ${before ? 'held' : 'did not hold'} the file`, mediaId)
      made(c, mediaId, before, access, name, res.body)
      tally(op, 'acknowledged')
      note(mediaId, `${c.label} ${op} "${name}": ${res.status} (now ${holdings.get(c.key.label, mediaId)?.access})`)
    } else if (res.status === 409 && res.body?.error?.code === 'removed_meanwhile') {
      tally(op, 'refused')
      note(mediaId, `${c.label} ${op}: 409 removed_meanwhile`)
    } else {
      unexpected(c, op, mediaId, res)
    }
  }

  async function deleteOp (c: Client, mediaId: string): Promise<void> {
    const before = holdings.get(c.key.label, mediaId)
    const res = await send(c, 'delete', mediaId, async () => await answer(await api(`/api/media/${mediaId}`, c.key.token, { method: 'DELETE' })),
      () => holdings.doubt(c.key.label, mediaId, null))
    if (res.status !== (before ? 204 : 404)) return unexpected(c, 'delete', mediaId, res)
    if (before) holdings.set(c.key.label, mediaId, null)
    tally('delete', before ? 'acknowledged' : 'refused')
    note(mediaId, `${c.label} delete: ${res.status}`)
  }

  async function pinOp (c: Client, mediaId: string, pinned: boolean): Promise<void> {
    const before = holdings.get(c.key.label, mediaId)
    const op = pinned ? 'pin' : 'unpin'
    const res = await send(c, op, mediaId, async () => await answer(await api(`/api/media/${mediaId}/pin`, c.key.token, { method: pinned ? 'PUT' : 'DELETE' })),
      () => { if (before) holdings.doubt(c.key.label, mediaId, { ...before, pinned }) })
    const code = res.body?.error?.code
    if (before && res.status === 200 && res.body.pinned === pinned) {
      holdings.set(c.key.label, mediaId, { ...before, pinned })
      tally(op, 'acknowledged')
      note(mediaId, `${c.label} ${op}: 200`)
    } else if ((!before && res.status === 404) || (before && pinned && res.status === 409 && (code === 'key_pin_limit' || code === 'pin_limit'))) {
      tally(op, 'refused')
    } else {
      unexpected(c, op, mediaId, res)
    }
  }

  /**
   * An access change, as today's API allows one: the same bytes uploaded public by a key that
   * holds them private (its record stays private), or its private record deleted and made
   * again public.
   */
  async function accessChangeOp (c: Client): Promise<void> {
    const mine = heldBy(c).filter(([, h]) => h.access === 'private')
    if (mine.length === 0) return await uploadOp(c, oneOf(c.share, c.pick), 'private')
    const [mediaId] = oneOf(mine, c.pick)
    const content = ids.indexOf(mediaId)
    if (c.pick() < 0.5) return await uploadOp(c, content, 'public', 'upload public over own private')
    await deleteOp(c, mediaId)
    await uploadOp(c, content, 'public', 'upload public after deleting own private')
  }

  /** Start a resumable upload of one of the client's larger contents. */
  async function tusCreateOp (c: Client): Promise<void> {
    const large = c.share.filter(n => contents[n]!.length > TUS_CHUNK)
    if (large.length === 0) return await uploadOp(c, oneOf(c.share, c.pick), 'public')
    const content = oneOf(large, c.pick)
    const access: AccessLevel = c.pick() < 0.5 ? 'public' : 'private'
    const name = nameFor(c, access)
    const mediaId = ids[content]!
    let location = ''
    const res = await send(c, 'tus create', mediaId, async () => {
      const created = await createUpload(base, c.key.token, contents[content]!.length, { filename: name, filetype: typeFor(access), access_level: access, name, sha256: mediaId })
      location = new URL(created.url).pathname
      return await answer(created.res)
    })
    if (res.status !== 201) return unexpected(c, 'tus create', mediaId, res)
    c.tus.push({ path: location, content, access, name, acked: 0, sent: 0, crossedKill: false })
    tally('tus create', 'acknowledged')
  }

  /**
   * Send the next chunk of a resumable upload. The last one publishes the file; at the end
   * already (its last PATCH was cut), an empty PATCH publishes it if the kill came first.
   */
  async function tusPatchOp (c: Client, up: TusUpload): Promise<void> {
    const mediaId = ids[up.content]!
    const bytes = contents[up.content]!
    const end = Math.min(bytes.length, up.acked + TUS_CHUNK)
    const last = end === bytes.length
    const before = last ? holdings.get(c.key.label, mediaId) : null
    const op = last ? 'tus last PATCH' : 'tus PATCH'
    up.sent = end
    const res = await send(c, op, mediaId, async () => await answer(await patch(`${base}${up.path}`, c.key.token, up.acked, bytes.subarray(up.acked, end))),
      () => { if (last) holdings.doubt(c.key.label, mediaId, before ?? { access: up.access, name: up.name, pinned: false }) })
    if (res.status === 204 && Number(res.headers.get('upload-offset')) === end) {
      up.acked = end
      tally(op, 'acknowledged')
      if (!last) return
      c.tus.splice(c.tus.indexOf(up), 1)
      counts.tusCompleted++
      if (up.crossedKill) counts.tusResumedAfterKill++
      if (res.headers.get('oip-media-id') !== mediaId) violation('unexpected_answer', `${c.label} ${op}: OIP-Media-Id ${res.headers.get('oip-media-id')}`, mediaId)
      made(c, mediaId, before, up.access, up.name)
      note(mediaId, `${c.label} tus ${up.access} "${up.name}" finished${up.crossedKill ? ' (resumed after a kill)' : ''} (now ${holdings.get(c.key.label, mediaId)?.access})`)
      return
    }
    c.tus.splice(c.tus.indexOf(up), 1)
    // The same bytes were deleted while this upload published them: the upload is over.
    if (last && res.status === 409 && res.body?.error?.code === 'removed_meanwhile') {
      tally(op, 'refused')
      note(mediaId, `${c.label} tus ${up.access}: 409 removed_meanwhile on the last PATCH`)
    } else {
      unexpected(c, op, mediaId, res)
    }
  }

  async function step (c: Client): Promise<void> {
    const mine = heldBy(c)
    const r = c.pick()
    const ownOrAny = (): string => mine.length > 0 && c.pick() < 0.85 ? oneOf(mine, c.pick)[0] : ids[oneOf(c.share, c.pick)]!
    const access = (): AccessLevel => c.pick() < 0.5 ? 'public' : 'private'
    if (mine.length > 4 && r < 0.3) return await deleteOp(c, ownOrAny())
    if (r < 0.28) return await uploadOp(c, oneOf(c.share, c.pick), access())
    if (r < 0.38) return await claimOp(c, oneOf(c.share, c.pick), access())
    if (r < 0.53) return await deleteOp(c, ownOrAny())
    if (r < 0.63) {
      if (mine.length === 0) return
      const [mediaId, h] = oneOf(mine, c.pick)
      return await pinOp(c, mediaId, !h.pinned)
    }
    if (r < 0.73) return await accessChangeOp(c)
    if (c.tus.length === 0 || (c.tus.length < 2 && c.pick() < 0.3)) return await tusCreateOp(c)
    await tusPatchOp(c, oneOf(c.tus, c.pick))
  }

  // ---- the checks after each start ----

  async function listAll (query: string, token?: string): Promise<any[]> {
    const items: any[] = []
    for (let cursor: number | null | undefined; cursor !== null;) {
      const res = await api(`/api/media?limit=100${query}${cursor !== undefined ? `&cursor=${cursor}` : ''}`, token)
      assert.equal(res.status, 200, `listing ${query}`)
      const page = await res.json()
      items.push(...page.items)
      cursor = page.nextCursor
    }
    return items
  }

  /** The bytes at /api/media/:id hash to the id and have the listed size. */
  async function servesBytes (mediaId: string, size: number, who: string, token?: string): Promise<void> {
    const res = await api(`/api/media/${mediaId}`, token)
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (res.status !== 200 || sha256(bytes) !== mediaId || bytes.length !== size) {
      violation('bytes_wrong', `GET as ${who}: ${res.status}, ${bytes.length} bytes (listed ${size}), sha256 ${sha256(bytes)}`, mediaId)
    }
  }

  async function torrentOf (mediaId: string, token?: string): Promise<{ status: number, infoHash?: string, name?: string, private?: boolean }> {
    const res = await api(`/api/media/${mediaId}/torrent`, token)
    if (res.status !== 200) {
      await res.body?.cancel()
      return { status: res.status }
    }
    const t = await parseTorrent(new Uint8Array(await res.arrayBuffer()))
    return { status: 200, infoHash: t.infoHash, name: t.name as string, private: t.private === true }
  }

  const isPrivateText = (...texts: unknown[]): boolean => texts.some(t => typeof t === 'string' && (privateNames.has(t) || t === PRIVATE_TYPE))

  /** Nobody but the holders sees this file: info, .torrent and bytes answer 404 as for a missing id. */
  async function hiddenFrom (mediaId: string, who: string, token?: string): Promise<void> {
    for (const p of [`/api/media/${mediaId}/info`, `/api/media/${mediaId}/torrent`, `/api/media/${mediaId}`]) {
      const res = await api(p, token)
      await res.body?.cancel()
      if (res.status !== 404) violation('private_visible', `${who} got ${res.status} for ${p}`, mediaId)
    }
  }

  /** A key that holds nothing of the file, if there is one. */
  const stranger = (mediaId: string): Key | undefined => {
    const holders = holdings.holders(mediaId).map(([k]) => k)
    return keys.find(k => !holders.includes(k.label))
  }

  /** Each key's own records, as its listing and /info show them; they settle what was in doubt. */
  async function ownRecords (k: Key): Promise<void> {
    const seen = new Map<string, Seen>()
    await each(await listAll('&owner=me', k.token), async item => {
      const res = await api(`/api/media/${item.mediaId}/info`, k.token)
      if (res.status !== 200) return violation('own_file_unreadable', `${k.label}'s listed file: /info ${res.status}`, item.mediaId)
      const info = await res.json()
      seen.set(item.mediaId, { access: item.accessLevel, name: item.name, infoHash: item.infoHash, pinned: info.seeding.pinned === true })
      if (info.accessLevel !== item.accessLevel || info.infoHash !== item.infoHash) {
        violation('infohash_disagrees', `${k.label}'s listing says ${item.accessLevel} ${item.infoHash}, its /info ${info.accessLevel} ${info.infoHash}`, item.mediaId)
      }
      if (!info.seeding.seeding) violation(`${item.accessLevel}_not_seeded`, `${k.label}'s ${item.accessLevel} file: /info seeding ${JSON.stringify(info.seeding)}`, item.mediaId)
      if (item.accessLevel !== 'private') return
      const t = await torrentOf(item.mediaId, k.token)
      if (t.infoHash !== item.infoHash || !t.private) violation('infohash_disagrees', `${k.label}'s private .torrent: ${t.status} ${t.infoHash} private=${t.private}, listed ${item.infoHash}`, item.mediaId)
      await servesBytes(item.mediaId, item.fileSize, `${k.label} (owner)`, k.token)
    })
    for (const m of holdings.settle(k.label, seen)) violation(m.kind, m.detail, m.mediaId)
  }

  /** The public side: exactly the files someone holds publicly, each seeded, with one infoHash everywhere and no private name. */
  async function publicSide (publicIds: Set<string>): Promise<void> {
    const listed = new Map((await listAll('')).map(item => [item.mediaId as string, item]))
    for (const [mediaId, item] of listed) {
      if (!publicIds.has(mediaId)) violation('listed_not_public', `on the public listing as "${item.originalName}", held by ${JSON.stringify(holdings.holders(mediaId))}`, mediaId)
      if (isPrivateText(item.name, item.originalName, item.description, item.mimeType)) violation('private_name_public', `public listing: ${JSON.stringify(item)}`, mediaId)
    }
    await each(publicIds, async mediaId => {
      const item = listed.get(mediaId)
      if (!item) violation('public_not_listed', `held publicly by ${holdings.holders(mediaId).filter(([, h]) => h.access === 'public').map(([k]) => k).join(', ')}, not on the public listing`, mediaId)
      // As another key sees it (one holding nothing of it; anonymous when every key holds it).
      const viewer = stranger(mediaId)
      const who = viewer?.label ?? 'anonymous'
      const res = await api(`/api/media/${mediaId}/info`, viewer?.token)
      if (res.status !== 200) return violation('public_unreadable', `${who}'s /info: ${res.status}`, mediaId)
      const info = await res.json()
      if (!info.seeding.seeding) violation('public_not_seeded', `${who}'s /info: seeding ${JSON.stringify(info.seeding)}`, mediaId)
      if (isPrivateText(info.originalName, info.mimeType)) violation('private_name_public', `${who}'s /info: "${info.originalName}" ${info.mimeType}`, mediaId)
      const t = await torrentOf(mediaId, viewer?.token)
      if (isPrivateText(t.name)) violation('private_name_public', `${who}'s .torrent is named "${t.name}"`, mediaId)
      if (t.infoHash !== info.infoHash || (item && item.infoHash !== info.infoHash)) {
        violation('infohash_disagrees', `public: listing ${item?.infoHash}, ${who}'s /info ${info.infoHash}, .torrent ${t.status} ${t.infoHash}`, mediaId)
      }
      for (const [k, h] of holdings.holders(mediaId)) {
        if (h.privateInfoHash === info.infoHash) violation('private_visible', `${k}'s private torrent is the public one`, mediaId)
      }
      await servesBytes(mediaId, info.fileSize, who, viewer?.token)
    })
    const stats = await (await api('/api/seeder/stats')).json()
    if (stats.seedingCount !== publicIds.size) violation('seeded_count_wrong', `the seeder seeds ${stats.seedingCount} public torrents for ${publicIds.size} public files`)
    for (const f of stats.topFiles ?? []) if (isPrivateText(f.name)) violation('private_name_public', `seeder stats name "${f.name}"`, f.mediaId)
  }

  /** Held only privately: invisible to anyone else. Held by nobody: gone everywhere. */
  async function hiddenSide (publicIds: Set<string>): Promise<void> {
    await each([...holdings.mediaIds()].filter(id => !publicIds.has(id)), async mediaId => {
      await hiddenFrom(mediaId, 'anonymous')
      const other = stranger(mediaId)
      if (other) await hiddenFrom(mediaId, `${other.label} (holds nothing of it${holdings.holders(mediaId).length === 0 ? '; nobody does' : ''})`, other.token)
    })
  }

  /**
   * Resumable uploads keep what was acknowledged and have nothing that was never sent. One
   * whose last PATCH was cut with all its bytes in is finished here, before its key does
   * anything else (an empty PATCH publishes it if the kill came first, and changes nothing if not).
   */
  async function resumables (c: Client): Promise<void> {
    for (const up of [...c.tus]) {
      const length = contents[up.content]!.length
      const res = await head(`${base}${up.path}`, c.key.token)
      if (res.status === 404) {
        c.tus.splice(c.tus.indexOf(up), 1)
        // A cut last PATCH may have ended the upload (published, or to be started again).
        if (up.sent < length) violation('tus_upload_lost', `${c.label} ${up.path}: 404 with ${up.acked} bytes acknowledged`, ids[up.content])
        continue
      }
      const offset = Number(res.headers.get('upload-offset'))
      if (offset < up.acked) violation('tus_acknowledged_bytes_lost', `${c.label} ${up.path}: offset ${offset} after ${up.acked} were acknowledged`, ids[up.content])
      if (offset > up.sent) violation('tus_offset_beyond_sent', `${c.label} ${up.path}: offset ${offset}, only ${up.sent} sent`, ids[up.content])
      up.acked = up.sent = Math.min(offset, up.sent)
      up.crossedKill = true
      if (up.acked === length) await tusPatchOp(c, up)
    }
  }

  const kept = new Set<string>()
  /** MEDIA_DIR holds a folder for each held file, and, after the grace, for nothing else. */
  async function blobsOnDisk (): Promise<void> {
    const held = new Set([...holdings.mediaIds()].filter(id => holdings.holders(id).length > 0))
    const folders = async (): Promise<string[]> => (await fs.readdir(media)).filter(n => /^[0-9a-f]{64}$/.test(n))
    const present = await folders()
    for (const id of held) if (!present.includes(id)) violation('held_blob_missing', 'no folder in MEDIA_DIR', id)
    const deadline = performance.now() + ORPHAN_DEADLINE_MS
    for (;;) {
      const strays = (await folders()).filter(id => !held.has(id))
      // One already seen to stay is not waited for again.
      if (strays.every(id => kept.has(id)) || performance.now() > deadline) {
        for (const id of kept) if (!strays.includes(id)) kept.delete(id)
        for (const id of strays) {
          kept.add(id)
          violation('deleted_blob_kept', `held by nobody, still in MEDIA_DIR ${ORPHAN_DEADLINE_MS / 1000} s after the start`, id)
        }
        return
      }
      await sleep(50)
    }
  }

  async function check (): Promise<void> {
    await each(keys, ownRecords)
    const publicIds = new Set([...holdings.mediaIds()].filter(id => holdings.holders(id).some(([, h]) => h.access === 'public')))
    await publicSide(publicIds)
    await hiddenSide(publicIds)
    for (const c of clients) await resumables(c)
    await blobsOnDisk()
  }

  // ---- kill, restart, check, CRASH_KILLS times ----

  function summary (): string {
    const kinds = new Map<string, Violation[]>()
    for (const v of violations) kinds.set(v.kind, [...kinds.get(v.kind) ?? [], v])
    const lines = [
      `crash torture: CRASH_SEED=${SEED} (the same seed makes the same choices), ${counts.kills} kills, ${seconds(performance.now() - started)} s: ` +
        `${seconds(spent.starting)} s starting the server, ${seconds(spent.checking)} s checking, ${seconds(spent.working)} s of workload`,
      `operations: ${counts.acknowledged} acknowledged, ${counts.inDoubt} in doubt (cut by a kill), ${counts.refused} refused as expected`,
      ...[...byOp].sort().map(([op, o]) => `  ${op}: ${o.acknowledged} acknowledged, ${o.inDoubt} in doubt, ${o.refused} refused`),
      `resumable uploads: ${counts.tusCompleted} finished, ${counts.tusResumedAfterKill} of them resumed after a kill`,
      `violations: ${violations.length}${[...kinds].map(([kind, vs]) => `\n  ${kind}: ${vs.length} (after ${new Set(vs.map(v => v.cycle)).size} of ${cycle + 1} starts)`).join('')}`
    ]
    for (const [kind, [first]] of kinds) {
      const { mediaId, before, detail } = first!
      lines.push(`first ${kind} (after start #${first!.cycle}): ${detail}`)
      if (mediaId) lines.push(`  what happened to ${mediaId} before:\n    ${(history.get(mediaId)?.slice(0, before).slice(-15) ?? ['(no operation on it)']).join('\n    ')}`)
    }
    return lines.join('\n')
  }

  try {
    for (cycle = 0; cycle <= KILLS; cycle++) {
      server = await timed('starting', async () => await spawnServer(dir, { ORPHAN_BLOB_GRACE: ORPHAN_GRACE }))
      base = server.url
      stopping = false
      await timed('checking', async () => {
        await Promise.all(keys.map(async k => { k.token = await signIn(base, k.identity) }))
        await check()
      })
      if (cycle === KILLS) break

      const working = performance.now()
      answers = 0
      const work = Promise.all(clients.map(async c => {
        try {
          while (!stopping) await step(c)
        } catch (err) {
          if (!(err instanceof Cut)) throw err
        }
      }))
      const killAfter = between(0, MAX_ANSWERS_BEFORE_KILL)
      const enough = new Promise<void>(resolve => {
        nextAnswer = () => { if (answers >= killAfter) resolve() }
        nextAnswer()
      })
      // (The clients stop by themselves only when the server died on its own.)
      await Promise.race([enough, work])
      await sleep(between(0, MAX_KILL_DELAY_MS))
      stopping = true
      await kill()
      counts.kills++
      await work
      spent.working += performance.now() - working
    }
  } finally {
    await kill()
    console.log(summary())
  }

  assert.equal(counts.kills, KILLS)
  assert.ok(counts.inDoubt > 0, 'some requests were cut by the kills')
  assert.ok(counts.tusResumedAfterKill > 0, 'some resumable uploads were resumed after a kill')
  assert.deepEqual([...new Set(violations.map(v => v.kind))], [], `violations (CRASH_SEED=${SEED}); see the summary above`)
})
