/**
 * Resolves with the first truthy value of `check`, re-checked every few milliseconds; rejects
 * with `what` after the timeout. For awaiting a condition instead of sleeping a guessed time.
 */
export async function waitUntil<T>(
  check: () => T | undefined | null | false,
  what: string,
  { timeoutMs = 5000, intervalMs = 5 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
