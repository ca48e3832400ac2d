/** Waits for something a background worker does (a publisher's run), failing the test after 30 s with what never happened. */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'

export async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await sleep(50)
  }
  assert.fail(`never happened: ${what}`)
}
