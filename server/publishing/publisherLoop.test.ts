/**
 * The publishers' loop and their retry delays: exponential backoff, capped; one run at a time,
 * a kick during a run (or a full batch) makes one more right after it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PublisherLoop, retryDelay } from './publisherLoop.ts'

test('retries wait the base, then twice as long each time, up to the cap', () => {
  const timings = { retryBaseMs: 30_000, retryMaxMs: 3_600_000 }
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(n => retryDelay(timings, n)), [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000])
  assert.equal(retryDelay(timings, 10_000), 3_600_000, 'however many attempts')
})

class CountingLoop extends PublisherLoop {
  runs = 0
  more: boolean[] = []
  release: (() => void) | undefined
  constructor () { super(3_600_000, err => { throw err }) }
  protected async run (): Promise<boolean> {
    this.runs++
    await new Promise<void>(resolve => { this.release = resolve })
    return this.more.shift() ?? false
  }
}

test('one run at a time: kicks during a run make one more after it, and a full batch another', async () => {
  const loop = new CountingLoop()
  loop.more = [false, true, false]
  loop.kick()
  loop.kick()
  loop.kick()
  assert.equal(loop.runs, 1, 'the kicks wait for the run under way')
  loop.release!()
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(loop.runs, 2, 'one more for the kicks')
  loop.release!()
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(loop.runs, 3, 'a full batch: more may be due')
  loop.release!()
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(loop.runs, 3, 'then it rests until kicked or polled')
  await loop.close()
})
