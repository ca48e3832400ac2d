import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { sql } from 'kysely'
import pg from 'pg'
import { openDatabase, type Database } from '../../server/db/database.ts'
import { describeEachDatabase, postgresUnavailable, sharedPostgres, startPostgres } from '../helpers/postgres.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const HELPER = JSON.stringify(path.join(ROOT, 'test/helpers/postgres.ts'))

interface TestRun {
  child: ChildProcess
  /** Its exit code, once it has exited and all its output is read. */
  exited: Promise<number | null>
  output (): string
  /** The first group of the nth match of `pattern` in the output, once it is there. */
  line (pattern: RegExp, nth?: number): Promise<string>
}

/** Another test process running `code` (an ES module), reporting in TAP. */
function testRun (code: string, extraEnv: Record<string, string> = {}): TestRun {
  // Without our runner's NODE_TEST_CONTEXT, its tests report on their own instead of to our runner.
  const { NODE_TEST_CONTEXT, ...env } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', '--test-reporter=tap', '--input-type=module', '-e', code], { cwd: ROOT, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { output += d })
  let closed = false
  const exited = new Promise<number | null>(resolve => child.once('close', code => { closed = true; resolve(code) }))
  async function line (pattern: RegExp, nth = 1): Promise<string> {
    const global = new RegExp(pattern.source, 'gm')
    for (;;) {
      const found = [...output.matchAll(global)][nth - 1]
      if (found) return found[1]!
      if (closed) throw new Error(`the test run ended before printing ${pattern}:\n${output}`)
      await Promise.race([new Promise(resolve => child.stdout.once('data', resolve)), exited])
    }
  }
  return { child, exited, output: () => output, line }
}

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

  test('stop() shuts the cluster down and removes its temp folder', async () => {
    const server = (await startPostgres())!
    const url = await server.newDatabase()
    assert.ok(existsSync(path.join(server.dir, 'data', 'PG_VERSION')))
    await server.stop()
    assert.equal(existsSync(server.dir), false)
    await assert.rejects(query(url, 'select 1'), { code: 'ECONNREFUSED' })
  })

  test('stop() lets a session still open when it starts end cleanly', async () => {
    const server = (await startPostgres())!
    const client = new pg.Client({ connectionString: await server.newDatabase() })
    const errors: Error[] = []
    client.on('error', err => errors.push(err))
    await client.connect()
    const stopped = server.stop()
    while (await fs.readFile(path.join(server.dir, 'data', 'postmaster.pid'), 'utf8').then(t => t.split('\n')[7]?.trim()) !== 'stopping') await sleep(10)
    assert.deepEqual((await client.query('select 1 as one')).rows, [{ one: 1 }])
    await client.end()
    await stopped
    assert.deepEqual(errors, [])
    assert.equal(existsSync(server.dir), false)
  })

  test('a test file shares one server between its tests and stops it after the last', async () => {
    // Two tests in a test file of their own, each asking for the server and a database in it.
    const run = testRun(`import { test } from 'node:test'
      import { sharedPostgres } from ${HELPER}
      for (const name of ['first', 'second']) {
        test(name, async () => {
          const server = await sharedPostgres()
          await server.newDatabase()
          console.log('DIR ' + server.dir)
        })
      }`)
    const dirs = [await run.line(/DIR (\S+)$/m), await run.line(/DIR (\S+)$/m, 2)]
    assert.equal(await run.exited, 0, run.output())
    assert.equal(dirs[0], dirs[1])
    assert.equal(existsSync(dirs[0]!), false)
  })

  test('a test process killed with SIGKILL takes its postmaster with it, and the next start removes its folder', { timeout: 60_000 }, async () => {
    // A test run that starts a cluster and then hangs until it is killed.
    const run = testRun(`import { startPostgres } from ${HELPER}
      const server = await startPostgres()
      console.log('DIR ' + server.dir)
      setInterval(() => {}, 60_000)`)
    const dir = await run.line(/DIR (\S+)$/m)
    const postmaster = Number((await fs.readFile(path.join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0])
    assert.ok(isRunning(postmaster))

    run.child.kill('SIGKILL')
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

  test('describeEachDatabase runs the SQLite block and shows why the PostgreSQL one is skipped', async () => {
    const run = testRun(`import { test } from 'node:test'
      import { describeEachDatabase } from ${HELPER}
      describeEachDatabase('catalogue', db => {
        test('runs', async () => { console.log('RAN ' + db.kind + ' ' + (await db.newDatabase()).options.sqliteFile) })
      })`, { PG_BIN: '/nonexistent/postgresql/bin' })
    assert.equal(await run.exited, 0, run.output())
    assert.match(run.output(), /RAN sqlite \S+\.sqlite/)
    assert.doesNotMatch(run.output(), /RAN postgres/)
    assert.match(run.output(), /catalogue \(PostgreSQL\) # SKIP PostgreSQL tests skipped: .*not found in \/nonexistent\/postgresql\/bin.*apt-get install -y postgresql/)
  })
})

describeEachDatabase('describeEachDatabase', db => {
  test('hands the block fresh databases of its kind that openDatabase opens, each separate from the others', async () => {
    const [a, b] = [await openDatabase((await db.newDatabase()).options), await openDatabase((await db.newDatabase()).options)]
    try {
      assert.equal(a.dialect, db.kind)
      await sql`create table harness_probe (id text primary key)`.execute(a.db)
      const tables = async (d: Database): Promise<string[]> => (await d.db.introspection.getTables()).map(t => t.name)
      assert.ok((await tables(a)).includes('harness_probe'))
      assert.ok(!(await tables(b)).includes('harness_probe'))
    } finally {
      await a.close()
      await b.close()
    }
  })
})
