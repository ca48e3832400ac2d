/// <reference lib="webworker" />
/**
 * The service-worker half of WebTorrent's `client.createServer({ controller })`: answers
 * `/webtorrent/<infoHash>/<path>` (what `file.streamURL` points a <video> at) by asking the page's
 * WebTorrent over a MessageChannel, and streams the bytes back as they download. Range requests,
 * and so seeking, are answered by the page (webtorrent/lib/server.js).
 *
 * The protocol is webtorrent/lib/worker-server.js's, with two changes: only the tab that made
 * the request is asked when it is known (the stock handler asks every tab and takes the first
 * answer, so a tab without that torrent answers 404 for the one that has it), and a request no tab answers gets a
 * clear 504 instead of hanging. Its 5 s idle cut-off (for Firefox, which cannot cancel worker
 * streams) is left out: it ends a slow download's stream for good in every browser.
 */
declare const self: ServiceWorkerGlobalScope

interface Head { status: number, headers: Record<string, string>, body: unknown }

const NO_ANSWER_MS = 10_000

/** A Response for /webtorrent/ requests, or undefined for everything else. */
export function streamResponse (event: FetchEvent): Promise<Response> | undefined {
  const base = `${self.registration.scope}webtorrent/`
  const { url } = event.request
  if (!url.startsWith(base)) return undefined
  // The page pings keepalive/ so the worker is not stopped mid-stream, and probes cancel/
  // once to learn whether stream cancellation works; neither needs the page's answer.
  if (url.startsWith(`${base}keepalive/`)) return Promise.resolve(new Response())
  if (url.startsWith(`${base}cancel/`)) return Promise.resolve(new Response(new ReadableStream()))
  return serve(event)
}

async function serve (event: FetchEvent): Promise<Response> {
  const { url, method, headers, destination } = event.request
  const requester = event.clientId ? await self.clients.get(event.clientId) : undefined
  const tabs = requester ? [requester] : await self.clients.matchAll({ type: 'window' })
  const answer = await new Promise<[Head, MessagePort] | undefined>(resolve => {
    let waiting = tabs.length
    let settled = false
    const settle = (value: [Head, MessagePort] | undefined): void => { settled = true; clearTimeout(timer); resolve(value) }
    const timer = setTimeout(() => settle(undefined), NO_ANSWER_MS)
    for (const tab of tabs) {
      const { port1, port2 } = new MessageChannel()
      port1.onmessage = ({ data }: MessageEvent<Head>) => {
        waiting--
        // A 404 counts only when no other tab has the torrent either; answers after the
        // chosen one are told to stop (false), so no tab keeps a range open for nothing.
        if (!settled && (data.status !== 404 || waiting === 0)) settle([data, port1])
        else port1.postMessage(false)
      }
      tab.postMessage({ url, method, headers: Object.fromEntries(headers.entries()), scope: self.registration.scope, destination, type: 'webtorrent' }, [port2])
    }
    if (tabs.length === 0) settle(undefined)
  })
  if (!answer) return new Response('No open tab of this app is downloading this file. Open its page again.', { status: 504 })
  const [head, port] = answer
  if (head.body !== 'STREAM') {
    port.postMessage(false)
    return new Response(head.body as BodyInit | null, head)
  }
  // Pull-based: each pull asks the page for its next chunk; null ends the stream.
  return new Response(new ReadableStream<Uint8Array>({
    pull: controller => new Promise<void>(resolve => {
      port.onmessage = ({ data }: MessageEvent<Uint8Array | null | undefined>) => {
        if (data) controller.enqueue(data)
        else { port.onmessage = null; controller.close() }
        resolve()
      }
      port.postMessage(true)
    }),
    // The player moved on (a seek, or it has enough): the page stops reading that range.
    cancel: () => { port.onmessage = null; port.postMessage(false) }
  }), head)
}
