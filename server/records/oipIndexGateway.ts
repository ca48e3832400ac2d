/**
 * The Arweave gateway (ARWEAVE_URL) as the indexer reads it: pages of OIP record items from its
 * GraphQL (oldest block first, `after` the cursor of the last one read) and an item's data. The
 * gateway may be hostile or broken: every answer is bounded in time and size and checked for
 * shape before anything of it is used; what does not fit is an Error saying what was wrong.
 */
import type { Tag } from '../../shared/oipNetworkRecord.ts'
import { INDEXED_ITEM_MAX_BYTES } from './oipItemCheck.ts'

/** An item as GraphQL lists it; `problem`: why it cannot be read (the loop goes on past it). */
export interface ListedItem {
  cursor: string
  id: string
  owner: string
  signature: string
  tags: Tag[]
  dataSize: number
  problem?: string
}

export interface IndexPage {
  items: ListedItem[]
  hasNextPage: boolean
}

export interface IndexGateway {
  page (after: string | undefined): Promise<IndexPage>
  data (id: string): Promise<Uint8Array>
}

export interface IndexGatewayLimits {
  /** Items per GraphQL page (gateways allow up to 100). */
  pageSize: number
  /** Per request, to the end of its body. */
  timeoutMs: number
}

/** A page of 100 items with their tags is well under this; more is not a page of OIP records. */
const MAX_PAGE_BYTES = 2 * 1024 * 1024
const MAX_CURSOR = 1024
const MAX_TAGS = 64
const MAX_TAG_TEXT = 4096
/** An item id: 32 bytes, base64url. */
const ITEM_ID = /^[A-Za-z0-9_-]{43}$/
const BASE64URL = /^[A-Za-z0-9_-]{1,1024}$/

// Records only, as the OIP indexer asks for them; the oldest block first, so `after` goes on to newer ones.
const QUERY = `query ($after: String, $first: Int) {
  transactions(tags: [{ name: "Index-Method", values: ["OIP"] }, { name: "Type", values: ["Record"] }], sort: HEIGHT_ASC, first: $first, after: $after) {
    pageInfo { hasNextPage }
    edges { cursor node { id signature owner { key } tags { name value } data { size } } }
  }
}`

// One item by its id, with what the indexer reads of each (Verify of a published record).
const ITEM_QUERY = `query ($id: ID!) {
  transactions(ids: [$id], first: 1) {
    pageInfo { hasNextPage }
    edges { cursor node { id signature owner { key } tags { name value } data { size } } }
  }
}`

/** An answer larger than allowed: never worth asking again. */
export class OversizedAnswer extends Error {}

/** The body, or an OversizedAnswer once it passes `max` bytes (the rest is not read). */
async function readLimited (res: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? 0)
  if (declared > max) {
    await res.body?.cancel()
    throw new OversizedAnswer(`${what} is ${declared} bytes, more than the ${max} allowed`)
  }
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = res.body?.getReader()
  for (let read = await reader?.read(); read !== undefined && !read.done; read = await reader!.read()) {
    size += read.value.length
    if (size > max) {
      await reader!.cancel()
      throw new OversizedAnswer(`${what} is more than the ${max} bytes allowed`)
    }
    chunks.push(read.value)
  }
  return Buffer.concat(chunks, size)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max

/** One edge as an item, with `problem` set when its node is malformed (its cursor still counts). */
function listedItem (edge: unknown): ListedItem | undefined {
  if (!isObject(edge) || !isText(edge.cursor, MAX_CURSOR) || edge.cursor === '') return undefined
  const node = isObject(edge.node) ? edge.node : {}
  const owner = isObject(node.owner) ? node.owner.key : undefined
  const tags = Array.isArray(node.tags) && node.tags.length <= MAX_TAGS && node.tags.every(t => isObject(t) && isText(t.name, MAX_TAG_TEXT) && isText(t.value, MAX_TAG_TEXT))
    ? (node.tags as Tag[]).map(t => ({ name: t.name, value: t.value }))
    : undefined
  const size = isObject(node.data) ? Number(node.data.size) : NaN
  const item = { cursor: edge.cursor, id: String(node.id).slice(0, 64), owner: '', signature: '', tags: [], dataSize: 0 }
  if (typeof node.id !== 'string' || !ITEM_ID.test(node.id)) return { ...item, problem: 'its id is not an Arweave id' }
  if (typeof owner !== 'string' || !BASE64URL.test(owner) || typeof node.signature !== 'string' || !BASE64URL.test(node.signature)) return { ...item, problem: 'its owner or signature is missing or malformed' }
  if (tags === undefined) return { ...item, problem: `its tags are malformed or more than ${MAX_TAGS}` }
  if (!Number.isSafeInteger(size) || size < 0) return { ...item, problem: 'its data size is malformed' }
  return { cursor: edge.cursor, id: node.id, owner, signature: node.signature, tags, dataSize: size }
}

export class OipIndexGateway implements IndexGateway {
  private readonly url: string
  private readonly limits: IndexGatewayLimits

  constructor (url: string, limits: IndexGatewayLimits) {
    this.url = url.replace(/\/+$/, '')
    this.limits = limits
  }

  async page (after: string | undefined): Promise<IndexPage> {
    const connection = await this.transactions(QUERY, { first: this.limits.pageSize, ...(after !== undefined ? { after } : {}) })
    // More than asked for: the rest is not read (their cursors are never taken).
    const items = connection.edges.slice(0, this.limits.pageSize).map(listedItem)
    const broken = items.indexOf(undefined)
    // Without a cursor nothing after it can be resumed from: the page ends before it.
    return { items: (broken < 0 ? items : items.slice(0, broken)) as ListedItem[], hasNextPage: broken < 0 && connection.pageInfo.hasNextPage }
  }

  /** One item as the gateway lists it, and its data; undefined when it lists none by that id. */
  async item (id: string): Promise<ListedItem & { data: Uint8Array } | undefined> {
    const [edge] = (await this.transactions(ITEM_QUERY, { id })).edges
    if (edge === undefined) return undefined
    const listed = listedItem(edge)
    if (listed === undefined || listed.problem !== undefined || listed.id !== id) throw new Error(`the gateway's listing of item ${id} is malformed${listed?.problem !== undefined ? `: ${listed.problem}` : ''}`)
    return { ...listed, data: await this.data(id) }
  }

  /** A GraphQL query's `transactions` connection, checked for shape. */
  private async transactions (query: string, variables: Record<string, unknown>): Promise<{ edges: unknown[], pageInfo: { hasNextPage: boolean } }> {
    const res = await this.request('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, variables })
    })
    if (!res.ok) {
      await res.body?.cancel()
      throw new Error(`the gateway's GraphQL answered ${res.status}`)
    }
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder().decode(await readLimited(res, MAX_PAGE_BYTES, 'the GraphQL answer')))
    } catch (err) {
      throw new Error(`the gateway's GraphQL answer is not JSON: ${(err as Error).message}`)
    }
    const connection = isObject(body) && isObject(body.data) ? body.data.transactions : undefined
    if (!isObject(connection) || !Array.isArray(connection.edges) || !isObject(connection.pageInfo) || typeof connection.pageInfo.hasNextPage !== 'boolean') {
      throw new Error(`the gateway's GraphQL answer is not a page of transactions${isObject(body) && body.errors !== undefined ? ` (errors: ${JSON.stringify(body.errors).slice(0, 200)})` : ''}`)
    }
    return connection as { edges: unknown[], pageInfo: { hasNextPage: boolean } }
  }

  async data (id: string): Promise<Uint8Array> {
    const res = await this.request(`/${id}`, { method: 'GET' })
    if (!res.ok) {
      await res.body?.cancel()
      throw new Error(`the gateway answered ${res.status} for its data`)
    }
    return await readLimited(res, INDEXED_ITEM_MAX_BYTES, 'its data')
  }

  /**
   * The response, its body to be read before the same deadline. Redirects are followed only for
   * GET (a POST's body is never sent on), within the gateway's own host and its subdomains (arweave.net sends data to a sandbox
   * subdomain of itself): a hostile gateway cannot make this server request another host.
   */
  private async request (path: string, init: RequestInit): Promise<Response> {
    const signal = AbortSignal.timeout(this.limits.timeoutMs)
    let url = new URL(`${this.url}${path}`)
    for (let hop = 0; ; hop++) {
      let res: Response
      try {
        res = await fetch(url, { ...init, signal, redirect: 'manual' })
      } catch (err) {
        throw new Error(`the gateway at ${this.url} cannot be reached (${(err as Error).message})`)
      }
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || location === null) return res
      await res.body?.cancel()
      if (init.method !== 'GET') throw new Error(`the gateway redirected a ${String(init.method)} request: not followed`)
      const next = new URL(location, url)
      if (!withinGateway(next, new URL(this.url))) throw new Error(`the gateway redirected to ${next.origin}, outside its own host: not followed`)
      if (hop >= MAX_REDIRECTS) throw new Error(`the gateway redirected more than ${MAX_REDIRECTS} times`)
      url = next
    }
  }
}

const MAX_REDIRECTS = 3

/** The gateway's own host or a subdomain of it, on the same protocol and port. */
function withinGateway (target: URL, gateway: URL): boolean {
  return target.protocol === gateway.protocol && target.port === gateway.port &&
    (target.hostname === gateway.hostname || target.hostname.endsWith(`.${gateway.hostname}`))
}
