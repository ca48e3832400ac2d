import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
// @ts-expect-error: a plain .mjs script without types
import { webBuildState } from './webBuild.mjs'

test('npm start builds the web app only when it is missing or a source is newer than the build', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'oip-webbuild-'))
  try {
    await fs.mkdir(path.join(root, 'web', 'lib'), { recursive: true })
    await fs.mkdir(path.join(root, 'shared'))
    await fs.writeFile(path.join(root, 'web', 'lib', 'app.ts'), 'old')
    await fs.writeFile(path.join(root, 'shared', 'record.ts'), 'old')
    const past = new Date(Date.now() - 60_000)
    for (const f of ['web/lib/app.ts', 'web/lib', 'web', 'shared/record.ts', 'shared']) await fs.utimes(path.join(root, f), past, past)
    assert.equal(webBuildState(root), 'missing')

    await fs.mkdir(path.join(root, 'dist', 'web'), { recursive: true })
    await fs.writeFile(path.join(root, 'dist', 'web', 'index.html'), '<!doctype html>')
    assert.equal(webBuildState(root), 'current', 'a restart over a current build builds nothing')

    const later = new Date(Date.now() + 60_000)
    await fs.utimes(path.join(root, 'shared', 'record.ts'), later, later)
    assert.equal(webBuildState(root), 'stale', 'shared/ is part of the web app')
  } finally {
    await fs.rm(root, { recursive: true, force: true })
  }
})
