/** Copy to the clipboard, and say so (or say what to do instead) in a toast. */
import { toasts } from './toasts.svelte.ts'

/** `what` names the thing copied, for the message: "the share link", "your key". */
export async function copyText (text: string, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
  } catch {
    toasts.error(`This browser did not let the app copy ${what}: select it and copy it by hand.`)
    return
  }
  toasts.success(`Copied ${what}.`)
}
