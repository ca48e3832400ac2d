/**
 * A real GUN relay for tests (test/helpers/gunRelay.mjs in a child process) on a loopback port,
 * which a test can stop and start again on the same port (a relay that is down, then back, with
 * nothing kept); and gun clients of the test's own that read a soul's node as the relay has it,
 * or write one there as any stranger may (GUN has no write protection).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { freePort } from '../../bench/serverProcess.ts'
import { silentLogger } from '../../server/logger.ts'
import type { GunRecordNode } from '../../shared/gunRecord.ts'
import { GunRelays } from '../../server/publishing/gunRelays.ts'

const SCRIPT = path.join(import.meta.dirname, 'gunRelay.mjs')

export interface TestGunRelay {
  /** What GUN_PEERS names. */
  url: string
  port: number
  stop (): Promise<void>
  /** Up again on the same port, empty. */
  start (): Promise<void>
}

async function spawnRelay (port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SCRIPT, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d
      if (output.includes('gun relay listening on')) resolve()
    })
    child.stderr!.on('data', (d: Buffer) => { output += d })
    child.once('exit', code => reject(new Error(`the gun relay exited (${code}) before it listened:\n${output}`)))
  })
  return child
}

/** `port`: where a server under test already expects it (e2e), else a free one. */
export async function startGunRelay (port?: number): Promise<TestGunRelay> {
  port ??= await freePort()
  let child: ChildProcess | undefined = await spawnRelay(port)
  return {
    url: `http://127.0.0.1:${port}/gun`,
    port,
    async stop () {
      if (!child || child.exitCode !== null) return
      const exited = new Promise(resolve => child!.once('exit', resolve))
      child.kill()
      await exited
      child = undefined
    },
    async start () { child = await spawnRelay(port) }
  }
}

/** The node at `soul` on the relay, read by a gun client of its own (undefined: none). */
export async function readGunNode (relayUrl: string, soul: string): Promise<Record<string, unknown> | undefined> {
  return await new GunRelays([relayUrl], 5000, silentLogger()).read(soul)
}

/** Puts `node` at `soul` on the relay, over whatever is there. */
export async function writeGunNode (relayUrl: string, soul: string, node: GunRecordNode): Promise<void> {
  const failed = await new GunRelays([relayUrl], 5000, silentLogger()).putAll([{ soul, node }])
  if (failed.size > 0) throw new Error(`the relay took no node: ${[...failed.values()].join('; ')}`)
}
