/** The real server as a child process, bundled and started as `npm start` does, for crash tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { serverArgs } from '../../scripts/buildServer.mjs'
import { databaseEnv, testEnv } from './server.ts'

export interface ServerProcess {
  child: ChildProcess
  url: string
  /** Resolves when the process has exited. */
  exited: Promise<number | null>
}

const ROOT = path.resolve(import.meta.dirname, '../..')

export async function spawnServer (dir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, await serverArgs(ROOT), {
    cwd: ROOT,
    env: { ...process.env, ...testEnv(dir, { LOG_LEVEL: 'warn', ...await databaseEnv(dir, env), ...env }) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output += d
      const m = output.match(/running at (https?:\/\/\S+)/)
      if (m) resolve(m[1]!)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', d => { output += d })
    exited.then(code => reject(new Error(`server exited (${code}) before it was ready:\n${output}`)))
  })
  return { child, url, exited }
}
