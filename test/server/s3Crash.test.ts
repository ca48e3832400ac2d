/**
 * kill -9 of a server with BLOB_STORE=s3 (an emulated S3 on loopback, test/helpers/s3.ts), at the
 * crash points around a publish (server/ops/crashPoint.ts): nothing is ever visible under a
 * file's id before it is verified and published, and what a crash leaves in the bucket (staging
 * parts, a blob no record holds) is collected after the grace by the next start.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { after, before, test } from 'node:test'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { startS3, type TestBucket } from '../helpers/s3.ts'
import { randomBytesSeeded, tempDir, upload } from '../helpers/server.ts'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const MiB = 1024 * 1024

let s3: TestBucket
const dirs: string[] = []
const running: ServerProcess[] = []
before(async () => { s3 = await startS3('oip-crash') })
after(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL')
  await Promise.all(running.map(p => p.exited))
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true })
  await s3?.stop()
})

/** A server over `dir` on the bucket that dies at `point` (if given); orphans' grace 1 s. */
async function start (dir: string, point?: string): Promise<ServerProcess> {
  const server = await spawnServer(dir, { ...s3.env, ORPHAN_BLOB_GRACE: '1s', ...(point ? { OIP_CRASH_AT: point } : {}) })
  running.push(server)
  return server
}

async function diesDuring (server: ServerProcess, request: Promise<unknown>): Promise<void> {
  await request.then(() => assert.fail('the server answered instead of dying at its crash point'), () => {})
  assert.equal(await server.exited, null, 'killed by a signal')
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await sleep(50)
  }
  assert.fail(`never happened: ${what}`)
}

const staging = async (): Promise<string[]> => (await s3.keys()).filter(k => k.startsWith('staging/'))

test('between staging and publish: nothing is under the id, and the next start collects the staging parts after the grace', { timeout: 90_000 }, async () => {
  const dir = await tempDir()
  dirs.push(dir)
  const bytes = randomBytesSeeded(9 * MiB + 4321, 911)
  const id = sha256(bytes)
  const dying = await start(dir, 'staged')
  await diesDuring(dying, upload(dying.url, bytes))
  // All of the bytes were staged (two parts), none published.
  assert.equal((await staging()).length, 2, JSON.stringify(await s3.keys()))
  assert.ok(!(await s3.keys()).some(k => k.includes(id)))

  const server = await start(dir)
  assert.equal((await fetch(`${server.url}/api/media/${id}`)).status, 404)
  await until('the staging parts are collected', async () => (await staging()).length === 0)
  const again = await upload(server.url, bytes)
  assert.equal(again.status, 201)
  assert.ok(Buffer.from(await (await fetch(`${server.url}/api/media/${id}`)).arrayBuffer()).equals(bytes))
  server.child.kill('SIGKILL')
})

test('after publish, before the record: the blob in the bucket that no record holds is collected after the grace', { timeout: 90_000 }, async () => {
  const dir = await tempDir()
  dirs.push(dir)
  const bytes = randomBytesSeeded(80_000, 912)
  const id = sha256(bytes)
  const dying = await start(dir, 'after-publish')
  await diesDuring(dying, upload(dying.url, bytes))
  assert.deepEqual((await s3.keys()).filter(k => k.includes(id)), [`${id}/manifest.json`, `${id}/original`, `${id}/torrent`])

  const server = await start(dir)
  await until('the orphan blob is collected', async () => !(await s3.keys()).some(k => k.includes(id)))
  assert.equal((await fetch(`${server.url}/api/media/${id}`)).status, 404)
  assert.equal((await upload(server.url, bytes)).status, 201)
  assert.ok(Buffer.from(await (await fetch(`${server.url}/api/media/${id}`)).arrayBuffer()).equals(bytes))
  server.child.kill('SIGKILL')
})
