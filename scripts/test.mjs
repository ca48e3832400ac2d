#!/usr/bin/env node
// `npm test`: unit/integration tests with Node's test runner, then e2e with Playwright.
//   node scripts/test.mjs            both stages
//   node scripts/test.mjs --unit     only unit/integration
//   node scripts/test.mjs --e2e      only e2e
//   node scripts/test.mjs seeder     only files whose path contains "seeder" (any number of filters)
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const args = process.argv.slice(2)
const filters = args.filter(a => !a.startsWith('--'))
const onlyUnit = args.includes('--unit')
const onlyE2e = args.includes('--e2e')
const E2E_DIR = path.join('test', 'e2e')
const INSTALL_HINT = 'E2E tests need Chromium. Install it with: sudo apt-get install -y chromium (Debian/Ubuntu), ' +
  'or set CHROMIUM_PATH=/path/to/chromium, or run npx playwright install chromium where downloads are allowed.'

/** Repo-relative paths under `dir` ending in `suffix`, skipping node_modules and `skip`. */
function findFiles (dir, suffix, skip) {
  if (!existsSync(path.join(root, dir))) return []
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter(e => e.isFile() && e.name.endsWith(suffix))
    .map(e => path.relative(root, path.join(e.parentPath, e.name)))
    .filter(f => !f.split(path.sep).includes('node_modules') && !(skip && f.startsWith(skip + path.sep)))
}

const matches = f => filters.length === 0 || filters.some(s => f.includes(s))

function run (cmd, cmdArgs, env = process.env) {
  console.log(`\n$ ${cmd} ${cmdArgs.join(' ')}`)
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env })
  if (r.error) console.error(r.error.message)
  return r.status === 0
}

/** Chromium to drive: Playwright cannot download browsers here, so prefer the system one. */
async function findChromium () {
  if (process.env.CHROMIUM_PATH) {
    if (existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH
    console.error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist.`)
    return null
  }
  const system = '/usr/bin/chromium'
  if (existsSync(system)) return system
  // On a fresh Debian box as root (CI), installing it is cheap and needs only apt.
  if (existsSync('/etc/debian_version') && process.getuid?.() === 0) {
    console.log('Chromium not found: installing it with apt-get install -y chromium ...')
    const ok = run('sh', ['-c', 'apt-get update && apt-get install -y chromium'])
    if (ok && existsSync(system)) return system
  }
  // Last resort: a browser Playwright downloaded earlier (where downloads are allowed).
  try {
    const { chromium } = await import('@playwright/test')
    const p = chromium.executablePath()
    if (p && existsSync(p)) return p
  } catch {}
  return null
}

async function unitStage () {
  const files = [...findFiles('shared', '.test.ts'), ...findFiles('server', '.test.ts'), ...findFiles('scripts', '.test.ts'), ...findFiles('test', '.test.ts', E2E_DIR)]
    .filter(matches).sort()
  if (files.length === 0) return 'none'
  console.log(`unit: ${files.length} file(s)`)
  // Node 20 does not expand .ts globs itself, so pass the files explicitly; one at a time
  // because integration tests share ports and temp dirs.
  return run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]) ? 'ok' : 'FAILED'
}

async function e2eStage () {
  const specs = findFiles(E2E_DIR, '.spec.ts').filter(matches).sort()
  if (specs.length === 0) return 'none'
  const chromium = await findChromium()
  if (!chromium) {
    console.error(INSTALL_HINT)
    return 'FAILED'
  }
  console.log(`e2e: ${specs.length} file(s) with ${chromium}`)
  // playwright.config.ts reads CHROMIUM_PATH for launchOptions.executablePath.
  const env = { ...process.env, CHROMIUM_PATH: chromium }
  return run('npx', ['playwright', 'test', ...(filters.length ? specs : [])], env) ? 'ok' : 'FAILED'
}

const results = {}
if (!onlyE2e) results.unit = await unitStage()
if (!onlyUnit) results.e2e = await e2eStage()

const summary = Object.entries(results).map(([k, v]) => `${k}: ${v}`).join(', ')
// "Ran no tests" is a failure, not a pass: a typo'd filter or a moved folder must not go green.
const ranNothing = Object.values(results).every(v => v === 'none')
if (ranNothing) {
  console.error(`\nNo test files found${filters.length ? ` matching ${filters.join(', ')}` : ''} ` +
    '(looked for **/*.test.ts under shared/, server/, scripts/, test/ and *.spec.ts under test/e2e/).')
}
console.log(`\n${summary}`)
process.exit(ranNothing || Object.values(results).includes('FAILED') ? 1 : 0)
