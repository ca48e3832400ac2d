import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { createLogger } from './logger.ts'

const CAPABILITY = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMiJ9.c2lnbmF0dXJl'

test('capabilities in URLs never reach the log, in any field, error or message', () => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const log = createLogger('debug', sink)
  const webseed = `http://127.0.0.1:3000/api/media/${'a'.repeat(64)}/seed/${CAPABILITY}`
  const tracker = `ws://127.0.0.1:3000/announce?token=${CAPABILITY}`
  log.error({ path: webseed, nested: { urls: [tracker] } }, 'unhandled error')
  log.warn({ err: new Error(`fetch ${webseed} failed`) }, 'web seed failed')
  log.debug(`tracker ${tracker} refused`)
  log.warn({ announce: `ws://127.0.0.1:3000/announce?seeder=${CAPABILITY}` }, 'tracker warning')
  assert.equal(lines.length, 4)
  for (const line of lines) {
    assert.ok(!line.includes(CAPABILITY), line)
    assert.match(line, /\[redacted\]/)
  }
  assert.match(lines[0]!, /\/api\/media\/a{64}\/seed\/\[redacted\]/, 'the rest of the URL stays, for debugging')
})
