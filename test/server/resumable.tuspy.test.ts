/**
 * The tus endpoint driven by tuspy (Debian's python3-tuspy), a client that is not ours: it must
 * upload, resume after its process died, and see a 204 for every PATCH, as tus 1.0 requires.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { bearer, newIdentity, signIn } from '../helpers/auth.ts'
import { randomBytesSeeded, startTestServer, type TestServer } from '../helpers/server.ts'

const run = promisify(execFile)
const SCRIPT = path.join(import.meta.dirname, '..', 'helpers', 'tuspy_upload.py')
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Debian's python3 first: a python3 earlier on PATH (pyenv, a venv) does not see Debian's packages. */
async function pythonWithTuspy (): Promise<string | undefined> {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (await run(python, ['-c', 'import tusclient']).then(() => true, () => false)) return python
  }
  return undefined
}

interface Patch { url: string, from: number, status: number, offset: number, mediaId: string | null }

const python = await pythonWithTuspy()

describe('resumable uploads with tuspy, an independent tus client', { skip: python ? false : 'tuspy is not installed: apt-get install python3-tuspy' }, () => {
  let server: TestServer
  let token: string
  before(async () => {
    server = await startTestServer({ ALLOW_ANONYMOUS_UPLOADS: 'false' })
    token = await signIn(server.url, await newIdentity())
  })
  after(async () => { await server.destroy() })

  /** Run the script; the PATCHes it made, and how it exited. */
  async function tuspy (file: string, store: string, stopAfter?: number): Promise<{ patches: Patch[], code: number }> {
    const args = [SCRIPT, `${server.url}/api/uploads`, token, file, String(64 * 1024), store, ...(stopAfter ? [String(stopAfter)] : [])]
    const { stdout, code } = await run(python!, args).then(r => ({ stdout: r.stdout, code: 0 }), (err: { stdout: string, stderr: string, code: number }) => {
      if (!stopAfter) assert.fail(`tuspy failed (${err.code}): ${err.stderr}`)
      return { stdout: err.stdout, code: err.code }
    })
    return { patches: stdout.trim().split('\n').filter(Boolean).map(line => JSON.parse(line) as Patch), code }
  }

  test('tuspy uploads in several PATCHes, each answered 204, and the file is published', async () => {
    const bytes = randomBytesSeeded(300_000, 95)
    const file = path.join(server.dir, 'tuspy.bin')
    await fs.writeFile(file, bytes)
    const { patches } = await tuspy(file, path.join(server.dir, 'urls.json'))
    assert.equal(patches.length, Math.ceil(bytes.length / (64 * 1024)))
    assert.deepEqual(patches.map(p => p.status), patches.map(() => 204))
    assert.equal(patches.at(-1)!.offset, bytes.length)
    assert.equal(patches.at(-1)!.mediaId, sha256(bytes))

    const { result } = await (await fetch(patches[0]!.url, { headers: bearer(token) })).json()
    assert.equal(result.mediaId, sha256(bytes))
    assert.equal(result.originalName, 'tuspy.bin')
    const stored = Buffer.from(await (await fetch(result.httpUrl)).arrayBuffer())
    assert.equal(sha256(stored), sha256(bytes))
  })

  test('tuspy killed after two PATCHes resumes from the URL it stored, at the server\'s offset', async () => {
    const bytes = randomBytesSeeded(400_000, 96)
    const file = path.join(server.dir, 'resumed.bin')
    const store = path.join(server.dir, 'resumed-urls.json')
    await fs.writeFile(file, bytes)
    const first = await tuspy(file, store, 2)
    assert.equal(first.code, 3, 'the first run died after two PATCHes')
    assert.equal(first.patches.length, 2)
    const second = await tuspy(file, store)
    assert.equal(second.patches[0]!.url, first.patches[0]!.url, 'the same upload goes on')
    assert.equal(second.patches[0]!.from, 2 * 64 * 1024)
    assert.deepEqual([...first.patches, ...second.patches].map(p => p.status), [...first.patches, ...second.patches].map(() => 204))
    assert.equal(second.patches.at(-1)!.mediaId, sha256(bytes))
    const stored = Buffer.from(await (await fetch(`${server.url}/api/media/${sha256(bytes)}`)).arrayBuffer())
    assert.equal(sha256(stored), sha256(bytes))
  })
})
