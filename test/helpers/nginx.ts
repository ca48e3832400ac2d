/**
 * nginx from Debian in front of test servers, configured by docs/nginx/oip-media-seeder.conf
 * itself: only its listen addresses, certificate paths and node addresses (the upstream's
 * `server` lines) are replaced. It runs in the foreground on loopback with a self-signed
 * certificate made by the openssl binary, its files in a temp folder, and dies with the test
 * process however that ends (parent-death signal).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import https from 'node:https'
import net from 'node:net'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../../bench/serverProcess.ts'
import { tempDir } from './server.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
export const SITE_CONFIG = path.join(ROOT, 'docs/nginx/oip-media-seeder.conf')
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'
const INSTALL = 'Install them with `apt-get install -y nginx openssl` (Debian), or set NGINX_BIN to an nginx binary.'

/** Why nginx cannot be run here, with how to fix it; undefined when it can. */
export function nginxUnavailable (): string | undefined {
  if (!existsSync(NGINX)) return `no nginx at ${NGINX}. ${INSTALL}`
  if (spawnSync('openssl', ['version']).status !== 0) return `no openssl binary (it makes the test certificate). ${INSTALL}`
  return undefined
}

export interface Certificate {
  certFile: string
  keyFile: string
  /** The certificate in PEM, for a client to trust. */
  pem: Buffer
  /** base64 SHA-256 of its public key (SPKI), as Chromium's --ignore-certificate-errors-spki-list takes it. */
  spki: string
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid two days, in `dir`. */
export function selfSignedCertificate (dir: string): Certificate {
  const certFile = path.join(dir, 'cert.pem')
  const keyFile = path.join(dir, 'key.pem')
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' })
  if (made.status !== 0) throw new Error(`openssl could not make a certificate:\n${made.stderr}`)
  const pem = readFileSync(certFile)
  const spkiDer = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })
  return { certFile, keyFile, pem, spki: createHash('sha256').update(spkiDer).digest('base64') }
}

interface Listen { https: number, http: number }

/** The upstream's node lines, as the site file has them: replaced by the test's nodes. */
const UPSTREAM_SERVERS = '    server 127.0.0.1:3000;\n    server 127.0.0.1:3001;\n'

/** The site file with the test's ports, certificate and nodes; throws if a line it replaces is gone. */
export function siteConfig (text: string, listen: Listen, cert: Certificate, nodes: string[]): string {
  const swaps: Array<[string, string]> = [
    ['listen 80;', `listen 127.0.0.1:${listen.http};`],
    ['listen [::]:80;', ''],
    ['listen 443 ssl http2;', `listen 127.0.0.1:${listen.https} ssl http2;`],
    ['listen [::]:443 ssl http2;', ''],
    ['/etc/letsencrypt/live/media.example.org/fullchain.pem', cert.certFile],
    ['/etc/letsencrypt/live/media.example.org/privkey.pem', cert.keyFile],
    [UPSTREAM_SERVERS, nodes.map(node => `    server ${node};\n`).join('')]
  ]
  return swaps.reduce((config, [from, to]) => {
    const parts = config.split(from)
    if (parts.length !== 2) throw new Error(`${SITE_CONFIG} must have "${from}" exactly once: test/helpers/nginx.ts replaces it`)
    return parts.join(to)
  }, text)
}

/** nginx.conf around the site, as a package's would be: temp folders and the pid in `dir`, errors to stderr. */
function mainConfig (dir: string): string {
  const temp = (kind: string): string => `${kind}_temp_path ${path.join(dir, kind)};`
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    // A master started as root runs its workers as this user (the test folder is readable to it).
    ...process.getuid?.() === 0 ? ['user nobody nogroup;'] : [],
    'events { worker_connections 1024; }',
    'http {',
    '    access_log off;',
    // As Debian's nginx.conf has it: the site must hold up with it.
    '    gzip on;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(kind => `    ${temp(kind)}`),
    `    include ${path.join(dir, 'site.conf')};`,
    '}',
    ''
  ].join('\n')
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  /** The loopback address to call from (127.0.0.2, …): a caller of its own to the proxy. */
  localAddress?: string
}

export interface Nginx {
  /** https://127.0.0.1:<port>: the PUBLIC_URL of the nodes behind it. */
  url: string
  /** http://127.0.0.1:<port>: redirects to HTTPS. */
  httpUrl: string
  certificate: Certificate
  /** The master process (its workers are its children). */
  pid: number
  /** A request to `url` + `path` over TLS, trusting the certificate; the caller writes and ends it. */
  request (path: string, opts?: RequestOptions): ReturnType<typeof https.request>
  /** fetch() over TLS, trusting the certificate: `path` on the proxy, the whole answer read. */
  fetch (path: string, opts?: RequestOptions & { body?: Uint8Array | string }): Promise<Response>
  stop (): Promise<void>
}

/**
 * Start nginx with the site in front of `nodes` (host:port each; they may start later). The
 * listening ports are picked here; the site's URL is known before any node starts.
 */
export async function startNginx (nodes: string[]): Promise<Nginx> {
  const dir = await tempDir('oip-nginx-')
  // Workers run as nobody when we are root: they must reach the temp folders nginx makes here.
  await fs.chmod(dir, 0o755)
  try {
    const certificate = selfSignedCertificate(dir)
    const listen = { https: await freePort(), http: await freePort() }
    await fs.writeFile(path.join(dir, 'site.conf'), siteConfig(await fs.readFile(SITE_CONFIG, 'utf8'), listen, certificate, nodes))
    await fs.writeFile(path.join(dir, 'nginx.conf'), mainConfig(dir))
    const child = spawn('setpriv', ['--pdeathsig', 'TERM', NGINX, '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let output = ''
    child.stderr!.on('data', d => { output += d })
    // A test file that forgets stop() must still end; nginx then dies with it.
    child.unref()
    ;(child.stderr as unknown as { unref?: () => void }).unref?.()
    await untilListening(child, listen.https, () => output)
    const url = `https://127.0.0.1:${listen.https}`
    const request = (urlPath: string, opts: RequestOptions = {}): ReturnType<typeof https.request> =>
      https.request(new URL(urlPath, url), { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, ca: certificate.pem, agent: false })
    let stopped: Promise<void> | undefined
    return {
      url,
      httpUrl: `http://127.0.0.1:${listen.http}`,
      certificate,
      pid: child.pid!,
      request,
      fetch: async (urlPath, opts = {}) => await new Promise<Response>((resolve, reject) => {
        const req = request(urlPath, opts)
        req.on('error', reject)
        req.on('response', res => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const status = res.statusCode ?? 0
            const empty = opts.method === 'HEAD' || [204, 304].includes(status)
            const headers = new Headers()
            for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) headers.append(name, v)
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers }))
          })
        })
        req.end(opts.body)
      }),
      async stop () {
        stopped ??= (async () => {
          await stopProcess(child)
          await fs.rm(dir, { recursive: true, force: true })
        })()
        await stopped
      }
    }
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** Resolves once `port` takes connections; throws with nginx's output if it exited first. */
async function untilListening (child: ChildProcess, port: number, output: () => string): Promise<void> {
  let exited = false
  child.once('exit', () => { exited = true })
  child.once('error', () => { exited = true })
  while (!exited) {
    const open = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await sleep(20)
  }
  throw new Error(`nginx (${NGINX}) did not start:\n${output()}`)
}

async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.ref() // unreferenced since it started: waiting for its exit must keep us running
  child.kill('SIGTERM')
  await exited
}
