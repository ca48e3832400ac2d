/** Bundles the server into `root`/dist/server; resolves to the path of main.mjs. */
export function buildServer (root: string): Promise<string>
/** The node arguments that run the bundled server (built once per process). */
export function serverArgs (root: string): Promise<string[]>
