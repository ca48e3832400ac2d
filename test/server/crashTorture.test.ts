/**
 * The crash test of issue #19: a few keys run a mixed workload against the real server process
 * (public and private uploads of the same bytes under different keys and names, claims, deletes,
 * pins, access changes, resumable uploads left half-done and resumed), and the server is killed
 * with SIGKILL at a random moment, CRASH_KILLS times (at least 50), restarting over the same
 * folders each time. After every start the server must agree with what its clients were told:
 * - every record answered 2xx is there, nothing deleted comes back, and a request cut by the
 *   kill (in doubt) did all or nothing;
 * - every listed file serves bytes whose SHA-256 is its id, and every held file is listed;
 * - every public file is seeded (active or idle), and its listing, /info and .torrent name the
 *   same infoHash; every private record's torrent is seeded and is not the public one;
 * - nobody else sees a private file (404 for info, .torrent and bytes) or a private name;
 * - the seeder seeds as many public torrents as there are public files;
 * - a resumable upload keeps every byte acknowledged (and none it never got);
 * - a blob nobody holds is gone from MEDIA_DIR within ORPHAN_DEADLINE_MS of the start
 *   ("eventually": ORPHAN_BLOB_GRACE is 1 s here, and the server collects at start and every
 *   half grace).
 * The choices (operations, bytes, names, kill delays) come from CRASH_SEED, printed at the end;
 * the same seed makes the same choices, while where a kill lands among the requests in flight
 * depends on timing. Violations are gathered, printed by kind with the history of the file
 * involved, and fail the test at the end.
 */
import assert from 'node:assert/strict'
import { createHash, randomInt } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { Holdings, type AccessLevel, type Holding, type Seen } from '../helpers/holdings.ts'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { randomBytesSeeded, tempDir, upload } from '../helpers/server.ts'
import { createUpload, head, patch } from '../helpers/tus.ts'

const KILLS = Math.max(50, Number(process.env.CRASH_KILLS ?? 50))
const SEED = Number(process.env.CRASH_SEED ?? randomInt(2 ** 31))
const KEYS = 4
const CONTENTS = 12
const TUS_CHUNK = 16 * 1024
/** A kill lands this long (at most) after the workload starts; 0 hits the background work of the start. */
const MAX_KILL_DELAY_MS = 600
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

interface Key {
  label: string
  token: string
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

test(`crash torture: ${KILLS} kill -9s during a mixed workload, every invariant checked after each start`, { timeout: KILLS * 15_000 }, async () => {
  const dir = await tempDir('oip-crash-')
  const media = path.join(dir, 'media')
  let server: ServerProcess | undefined
  after(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL')
      await server.exited
    }
    await fs.rm(dir, { recursive: true, force: true })
  })

  const started = performance.now()
  const pick = generator(SEED)
  const between = (min: number, max: number, p = pick): number => min + Math.floor(p() * (max - min + 1))
  const contents = Array.from({ length: CONTENTS }, (_, i) => randomBytesSeeded(between(1_000, 120_000), SEED + i + 1))
  const ids = contents.map(sha256)
  const holdings = new Holdings()
  const privateNames = new Set<string>()
  const violations: Violation[] = []
  const history = new Map<string, string[]>()
  const counts = { acknowledged: 0, inDoubt: 0, refused: 0, kills: 0, tusCompleted: 0, tusResumedAfterKill: 0 }
  /** Where the time goes (ms): starting the server, checking it, the workload until the kill. */
  const spent = { starting: 0, checking: 0, working: 0 }
  const timed = async <T>(phase: keyof typeof spent, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now()
    try { return await fn() } finally { spent[phase] += performance.now() - t }
  }
  const byOp = new Map<string, { acknowledged: number, inDoubt: number, refused: number }>()
  let cycle = 0
  let base = ''
  let stopping = false

  const note = (mediaId: string, text: string): void => {
    history.set(mediaId, [...history.get(mediaId) ?? [], `start #${cycle}: ${text}`])
  }
  const violation = (kind: string, detail: string, mediaId?: string): void => {
    violations.push({ kind, cycle, detail, ...(mediaId ? { mediaId, before: history.get(mediaId)?.length ?? 0 } : {}) })
  }
  const tally = (op: string, outcome: 'acknowledged' | 'inDoubt' | 'refused'): void => {
    counts[outcome]++
    const o = byOp.get(op) ?? { acknowledged: 0, inDoubt: 0, refused: 0 }
    o[outcome]++
    byOp.set(op, o)
  }
  const unexpected = (k: Key, op: string, mediaId: string, res: Answer): void => {
    note(mediaId, `${k.label} ${op}: ${res.status}`)
    violation('unexpected_answer', `${k.label} ${op}: ${res.status} ${JSON.stringify(res.body)}`, mediaId)
  }
  /** A request of the workload; no answer means it is in doubt, and this key stops until the next start. */
  const send = async (k: Key, op: string, mediaId: string, request: () => Promise<Answer>, ifApplied?: () => void): Promise<Answer> => {
    try {
      return await request()
    } catch (err) {
      tally(op, 'inDoubt')
      note(mediaId, `${k.label} ${op}: no answer (in doubt)`)
      ifApplied?.()
      if (!stopping) violation('connection_failed', `${k.label} ${op}: ${(err as Error).message} while the server was meant to be up`, mediaId)
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

  const identities = await Promise.all(Array.from({ length: KEYS }, async () => await newIdentity()))
  const keys: Key[] = identities.map((_, i) => ({ label: `k${i}`, token: '', pick: generator(SEED * 31 + i), names: 0, tus: [] }))
  const nameFor = (k: Key, access: AccessLevel): string => {
    const name = `${access === 'private' ? 'secret' : 'pub'}-${k.label}-${++k.names}.bin`
    if (access === 'private') privateNames.add(name)
    return name
  }

  /** The record an answered upload, claim or finished resumable upload leaves: the old one, or a new one. */
  const made = (k: Key, mediaId: string, before: Holding | null, access: AccessLevel, name: string, result?: { accessLevel: string, infoHash: string }): void => {
    const after = before ?? { access, name, pinned: false }
    if (result && result.accessLevel !== after.access) violation('record_changed', `${k.label} held ${JSON.stringify(before)}; the answer says ${result.accessLevel}`, mediaId)
    if (!before && access === 'private' && result) after.privateInfoHash = result.infoHash
    holdings.set(k.label, mediaId, after)
  }

  // ---- the operations: each is one request (two for an access change), answered or cut ----

  async function uploadOp (k: Key, content: number, access: AccessLevel, op = `upload ${access}`): Promise<void> {
    const mediaId = ids[content]!
    const name = nameFor(k, access)
    const before = holdings.get(k.label, mediaId)
    const res = await send(k, op, mediaId, async () => {
      const { status, body } = await upload(base, contents[content]!, { access_level: access, name }, name, access === 'private' ? PRIVATE_TYPE : 'text/plain', k.token)
      return { status, body, headers: new Headers() }
    }, () => holdings.doubt(k.label, mediaId, before ?? { access, name, pinned: false }))
    answered(k, op, mediaId, res, before, access, name)
  }

  async function claimOp (k: Key, content: number, access: AccessLevel): Promise<void> {
    const mediaId = ids[content]!
    const name = nameFor(k, access)
    const before = holdings.get(k.label, mediaId)
    const op = `claim ${access}`
    const res = await send(k, op, mediaId, async () => await answer(await api(`/api/media/${mediaId}/claim`, k.token, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ access_level: access, name, original_name: name, mime_type: access === 'private' ? PRIVATE_TYPE : 'text/plain' })
    })), () => holdings.doubt(k.label, mediaId, before ?? { access, name, pinned: false }))
    // Someone else's private file, or bytes nobody holds: the same 404 as a missing id.
    if (res.status === 404 && !before) {
      tally(op, 'refused')
      note(mediaId, `${k.label} ${op}: 404`)
      return
    }
    answered(k, op, mediaId, res, before, access, name)
  }

  /** An upload's or claim's answer: 201 for a new record, 200 for one the key had; 409 if the bytes were deleted meanwhile. */
  function answered (k: Key, op: string, mediaId: string, res: Answer, before: Holding | null, access: AccessLevel, name: string): void {
    if (res.status === 200 || res.status === 201) {
      if (res.status !== (before ? 200 : 201)) violation('unexpected_answer', `${k.label} ${op}: ${res.status}, but the key ${before ? 'held' : 'did not hold'} the file`, mediaId)
      made(k, mediaId, before, access, name, res.body)
      tally(op, 'acknowledged')
      note(mediaId, `${k.label} ${op} "${name}": ${res.status} (now ${holdings.get(k.label, mediaId)?.access})`)
    } else if (res.status === 409 && res.body?.error?.code === 'removed_meanwhile') {
      tally(op, 'refused')
      note(mediaId, `${k.label} ${op}: 409 removed_meanwhile`)
    } else {
      unexpected(k, op, mediaId, res)
    }
  }

  async function deleteOp (k: Key, mediaId: string): Promise<void> {
    const before = holdings.get(k.label, mediaId)
    const res = await send(k, 'delete', mediaId, async () => await answer(await api(`/api/media/${mediaId}`, k.token, { method: 'DELETE' })),
      () => holdings.doubt(k.label, mediaId, null))
    if (res.status !== (before ? 204 : 404)) return unexpected(k, 'delete', mediaId, res)
    if (before) holdings.set(k.label, mediaId, null)
    tally('delete', before ? 'acknowledged' : 'refused')
    note(mediaId, `${k.label} delete: ${res.status}`)
  }

  async function pinOp (k: Key, mediaId: string, pinned: boolean): Promise<void> {
    const before = holdings.get(k.label, mediaId)
    const op = pinned ? 'pin' : 'unpin'
    const res = await send(k, op, mediaId, async () => await answer(await api(`/api/media/${mediaId}/pin`, k.token, { method: pinned ? 'PUT' : 'DELETE' })),
      () => { if (before) holdings.doubt(k.label, mediaId, { ...before, pinned }) })
    const code = res.body?.error?.code
    if (before && res.status === 200 && res.body.pinned === pinned) {
      holdings.set(k.label, mediaId, { ...before, pinned })
      tally(op, 'acknowledged')
      note(mediaId, `${k.label} ${op}: 200`)
    } else if ((!before && res.status === 404) || (before && pinned && res.status === 409 && (code === 'key_pin_limit' || code === 'pin_limit'))) {
      tally(op, 'refused')
    } else {
      unexpected(k, op, mediaId, res)
    }
  }

  /**
   * An access change, as today's API allows one: the same bytes uploaded public by a key that
   * holds them private (its record stays private), or its private record deleted and made
   * again public.
   */
  async function accessChangeOp (k: Key): Promise<void> {
    const mine = holdings.held(k.label).filter(([, h]) => h.access === 'private')
    if (mine.length === 0) return await uploadOp(k, between(0, CONTENTS - 1, k.pick), 'private')
    const [mediaId] = mine[between(0, mine.length - 1, k.pick)]!
    const content = ids.indexOf(mediaId)
    if (k.pick() < 0.5) return await uploadOp(k, content, 'public', 'upload public over own private')
    await deleteOp(k, mediaId)
    await uploadOp(k, content, 'public', 'upload public after deleting own private')
  }

  /** One step of a resumable upload: start one, or send the next chunk of an open one (an empty PATCH at its end publishes it). */
  async function tusOp (k: Key): Promise<void> {
    if (k.tus.length === 0 || (k.tus.length < 3 && k.pick() < 0.3)) {
      const large = contents.map((c, i) => [c, i] as const).filter(([c]) => c.length > 2 * TUS_CHUNK)
      const [bytes, content] = large[between(0, large.length - 1, k.pick)]!
      const access: AccessLevel = k.pick() < 0.5 ? 'public' : 'private'
      const name = nameFor(k, access)
      const mediaId = ids[content]!
      let location = ''
      const res = await send(k, 'tus create', mediaId, async () => {
        const created = await createUpload(base, k.token, bytes.length, {
          filename: name, filetype: access === 'private' ? PRIVATE_TYPE : 'text/plain', access_level: access, name, sha256: mediaId
        })
        location = new URL(created.url).pathname
        return await answer(created.res)
      })
      if (res.status !== 201) return unexpected(k, 'tus create', mediaId, res)
      k.tus.push({ path: location, content, access, name, acked: 0, sent: 0, crossedKill: false })
      tally('tus create', 'acknowledged')
      return
    }
    const up = k.tus[between(0, k.tus.length - 1, k.pick)]!
    const mediaId = ids[up.content]!
    const bytes = contents[up.content]!
    const end = Math.min(bytes.length, up.acked + TUS_CHUNK)
    const last = end === bytes.length
    const before = last ? holdings.get(k.label, mediaId) : null
    const op = last ? 'tus last PATCH' : 'tus PATCH'
    up.sent = end
    const res = await send(k, op, mediaId, async () => await answer(await patch(`${base}${up.path}`, k.token, up.acked, bytes.subarray(up.acked, end))),
      () => { if (last) holdings.doubt(k.label, mediaId, before ?? { access: up.access, name: up.name, pinned: false }) })
    if (res.status === 204 && Number(res.headers.get('upload-offset')) === end) {
      up.acked = end
      tally(op, 'acknowledged')
      if (!last) return
      k.tus.splice(k.tus.indexOf(up), 1)
      counts.tusCompleted++
      if (up.crossedKill) counts.tusResumedAfterKill++
      if (res.headers.get('oip-media-id') !== mediaId) violation('unexpected_answer', `${k.label} ${op}: OIP-Media-Id ${res.headers.get('oip-media-id')}`, mediaId)
      made(k, mediaId, before, up.access, up.name)
      note(mediaId, `${k.label} tus ${up.access} "${up.name}" finished${up.crossedKill ? ' (resumed after a kill)' : ''} (now ${holdings.get(k.label, mediaId)?.access})`)
      return
    }
    k.tus.splice(k.tus.indexOf(up), 1)
    // The same bytes were deleted while this upload published them: the upload is over.
    if (last && res.status === 409 && res.body?.error?.code === 'removed_meanwhile') {
      tally(op, 'refused')
      note(mediaId, `${k.label} tus ${up.access}: 409 removed_meanwhile on the last PATCH`)
    } else {
      unexpected(k, op, mediaId, res)
    }
  }

  async function step (k: Key): Promise<void> {
    const mine = holdings.held(k.label)
    const r = k.pick()
    const any = (): number => between(0, CONTENTS - 1, k.pick)
    const ownOrAny = (): string => mine.length > 0 && k.pick() < 0.85 ? mine[between(0, mine.length - 1, k.pick)]![0] : ids[any()]!
    if (mine.length > 7 && r < 0.3) return await deleteOp(k, ownOrAny())
    if (r < 0.28) return await uploadOp(k, any(), k.pick() < 0.5 ? 'public' : 'private')
    if (r < 0.38) return await claimOp(k, any(), k.pick() < 0.5 ? 'public' : 'private')
    if (r < 0.53) return await deleteOp(k, ownOrAny())
    if (r < 0.63) {
      if (mine.length === 0) return
      const [mediaId, h] = mine[between(0, mine.length - 1, k.pick)]!
      return await pinOp(k, mediaId, !h.pinned)
    }
    if (r < 0.73) return await accessChangeOp(k)
    await tusOp(k)
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

  async function check (): Promise<void> {
    // Each key's own records, as its listing and /info show them, settle what was in doubt.
    await each(keys, async k => {
      const seen = new Map<string, Seen>()
      await each(await listAll('&owner=me', k.token), async item => {
        const res = await api(`/api/media/${item.mediaId}/info`, k.token)
        if (res.status !== 200) return violation('bytes_wrong', `${k.label}'s listed file has no /info: ${res.status}`, item.mediaId)
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
    })

    // The public side: exactly the files someone holds publicly, each seeded, one infoHash everywhere.
    const publicIds = new Set([...holdings.mediaIds()].filter(id => holdings.holders(id).some(([, h]) => h.access === 'public')))
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
      if (res.status !== 200) return violation('public_unreadable', `public file: ${who}'s /info ${res.status}`, mediaId)
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

    // Held only privately: invisible to anyone else. Held by nobody: gone everywhere.
    await each(holdings.mediaIds(), async mediaId => {
      if (publicIds.has(mediaId)) return
      await hiddenFrom(mediaId, 'anonymous')
      const other = stranger(mediaId)
      if (other) await hiddenFrom(mediaId, `${other.label} (holds nothing of it${holdings.holders(mediaId).length === 0 ? '; nobody does' : ''})`, other.token)
    })

    const stats = await (await api('/api/seeder/stats')).json()
    if (stats.seedingCount !== publicIds.size) violation('seeded_count_wrong', `the seeder seeds ${stats.seedingCount} public torrents for ${publicIds.size} public files`)
    for (const f of stats.topFiles ?? []) if (isPrivateText(f.name)) violation('private_name_public', `seeder stats name "${f.name}"`, f.mediaId)

    // Resumable uploads keep what was acknowledged, and no byte that was never sent.
    for (const k of keys) {
      for (const up of [...k.tus]) {
        const res = await head(`${base}${up.path}`, k.token)
        const mediaId = ids[up.content]!
        if (res.status === 404) {
          k.tus.splice(k.tus.indexOf(up), 1)
          // A cut last PATCH may have published the file and ended the upload (or left it to start over).
          if (up.sent < contents[up.content]!.length) violation('tus_upload_lost', `${k.label} ${up.path}: 404 with ${up.acked} bytes acknowledged`, mediaId)
          continue
        }
        const offset = Number(res.headers.get('upload-offset'))
        if (offset < up.acked) violation('tus_acknowledged_bytes_lost', `${k.label} ${up.path}: offset ${offset} after ${up.acked} were acknowledged`, mediaId)
        if (offset > up.sent) violation('tus_offset_beyond_sent', `${k.label} ${up.path}: offset ${offset}, only ${up.sent} sent`, mediaId)
        up.acked = up.sent = Math.min(offset, up.sent)
        up.crossedKill = true
      }
    }

    await blobsOnDisk()
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
        for (const id of strays) {
          kept.add(id)
          violation('deleted_blob_kept', `held by nobody, still in MEDIA_DIR ${ORPHAN_DEADLINE_MS / 1000} s after the start`, id)
        }
        for (const id of kept) if (!strays.includes(id)) kept.delete(id)
        return
      }
      await sleep(50)
    }
  }

  // ---- kill, restart, check, CRASH_KILLS times ----

  for (cycle = 0; cycle <= KILLS; cycle++) {
    try {
      server = await timed('starting', async () => await spawnServer(dir, { ORPHAN_BLOB_GRACE: ORPHAN_GRACE }))
    } catch (err) {
      violation('start_failed', (err as Error).message)
      break
    }
    base = server.url
    await timed('checking', async () => {
      // A new port each start, and session tokens name the origin: sign in again.
      await Promise.all(keys.map(async (k, i) => { k.token = await signIn(base, identities[i]!) }))
      await check()
    })
    if (cycle === KILLS) break
    const working = performance.now()

    stopping = false
    const work = keys.map(async k => {
      try {
        while (!stopping) await step(k)
      } catch (err) {
        if (!(err instanceof Cut)) throw err
      }
    })
    await sleep(between(0, MAX_KILL_DELAY_MS))
    stopping = true
    server.child.kill('SIGKILL')
    await server.exited
    counts.kills++
    await Promise.all(work)
    spent.working += performance.now() - working
  }
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL')
    await server.exited
  }

  // ---- the summary ----
  const kinds = new Map<string, Violation[]>()
  for (const v of violations) kinds.set(v.kind, [...kinds.get(v.kind) ?? [], v])
  const lines = [
    `crash torture: CRASH_SEED=${SEED} (the same seed makes the same choices), ${counts.kills} kills, ${seconds(performance.now() - started)} s: ` +
      `${seconds(spent.starting)} s starting the server, ${seconds(spent.checking)} s checking, ${seconds(spent.working)} s of workload`,
    `operations: ${counts.acknowledged} acknowledged, ${counts.inDoubt} in doubt (cut by a kill), ${counts.refused} refused as expected`,
    ...[...byOp].sort().map(([op, o]) => `  ${op}: ${o.acknowledged} acknowledged, ${o.inDoubt} in doubt, ${o.refused} refused`),
    `resumable uploads: ${counts.tusCompleted} finished, ${counts.tusResumedAfterKill} of them resumed after a kill`,
    `violations: ${violations.length}${[...kinds].map(([kind, vs]) => `\n  ${kind}: ${vs.length} (in ${new Set(vs.map(v => v.cycle)).size} of ${counts.kills + 1} starts)`).join('')}`
  ]
  for (const [kind, [first]] of kinds) {
    lines.push(`first ${kind} (after start #${first!.cycle}): ${first!.detail}`)
    const { mediaId, before } = first!
    if (mediaId) lines.push(`  what happened to ${mediaId} before:\n    ${(history.get(mediaId)?.slice(0, before).slice(-15) ?? ['(no operation on it)']).join('\n    ')}`)
  }
  console.log(lines.join('\n'))

  assert.equal(counts.kills, KILLS)
  assert.ok(counts.inDoubt > 0, 'some requests were cut by the kills')
  assert.ok(counts.tusResumedAfterKill > 0, 'some resumable uploads were resumed after a kill')
  assert.deepEqual([...kinds.keys()], [], `violations (CRASH_SEED=${SEED}):\n${lines.join('\n')}`)
})
