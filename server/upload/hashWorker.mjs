// Worker entry: workers do not inherit the parent's tsx loader on Node 20, so register it here.
import { register } from 'tsx/esm/api'

register()
await import('./hashWorker.ts')
