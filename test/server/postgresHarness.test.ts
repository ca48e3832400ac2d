import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import pg from 'pg'
import { postgresUnavailable, sharedPostgres, startPostgres } from '../helpers/postgres.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')

async function query (url: string, sql: string): Promise<any[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql)).rows
  } finally {
    await client.end()
  }
}

/** Alive, not a zombie waiting for its new parent to reap it. */
function isRunning (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

const unavailable = postgresUnavailable()

describe('the PostgreSQL test harness', { skip: unavailable && `PostgreSQL tests skipped: ${unavailable}` }, () => {
  test('a fresh database answers select version() on the URL it was given', async () => {
    const url = await (await sharedPostgres())!.newDatabase()
    const [row] = await query(url, 'select version(), current_database()')
    assert.match(row.version, /^PostgreSQL \d+/)
    assert.equal(row.current_database, new URL(url).pathname.slice(1))
  })

  test('two fresh databases are separate', async () => {
    const server = (await sharedPostgres())!
    const a = await server.newDatabase()
    const b = await server.newDatabase()
    assert.notEqual(a, b)
    await query(a, 'create table files (id text primary key); insert into files values (\'only in a\')')
    assert.deepEqual(await query(a, 'select id from files'), [{ id: 'only in a' }])
    assert.deepEqual(await query(b, 'select to_regclass(\'files\') as t'), [{ t: null }])
  })

  test('stop() shuts the cluster down and removes its temp folder', async () => {
    const server = (await startPostgres())!
    const url = await server.newDatabase()
    assert.ok(existsSync(path.join(server.dir, 'data', 'PG_VERSION')))
    await server.stop()
    assert.equal(existsSync(server.dir), false)
    await assert.rejects(query(url, 'select 1'), { code: 'ECONNREFUSED' })
  })

  test('a test process killed with SIGKILL takes its postmaster with it, and the next start removes its folder', async () => {
    // A test run that starts a cluster and then hangs until it is killed.
    const code = `const { startPostgres } = await import(${JSON.stringify(path.join(ROOT, 'test/helpers/postgres.ts'))})
      const server = await startPostgres()
      console.log('DIR ' + server.dir)
      setInterval(() => {}, 60_000)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    const dir = await new Promise<string>((resolve, reject) => {
      let output = ''
      child.stdout.on('data', d => {
        output += d
        const m = /^DIR (\S+)$/m.exec(output)
        if (m) resolve(m[1]!)
      })
      child.once('exit', code => reject(new Error(`the test run exited (${code}) before its cluster was up:\n${output}`)))
    })
    const postmaster = Number((await fs.readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0])
    assert.ok(isRunning(postmaster))

    child.kill('SIGKILL')
    // The postmaster is not our child, so there is no exit event to wait for.
    while (isRunning(postmaster)) await sleep(20)

    const next = (await startPostgres())!
    await next.stop()
    assert.equal(existsSync(dir), false)
  })
})

describe('the PostgreSQL test harness without PostgreSQL', () => {
  test('PG_BIN pointing at nothing gives a reason that says how to install it, and no server', async () => {
    const before = process.env.PG_BIN
    process.env.PG_BIN = '/nonexistent/postgresql/bin'
    try {
      const reason = postgresUnavailable()
      assert.match(reason ?? '', /initdb, postgres, createdb not found in \/nonexistent\/postgresql\/bin \(PG_BIN\)/)
      assert.match(reason ?? '', /apt-get install -y postgresql/)
      assert.equal(await startPostgres(), undefined)
    } finally {
      if (before === undefined) delete process.env.PG_BIN
      else process.env.PG_BIN = before
    }
  })
})
