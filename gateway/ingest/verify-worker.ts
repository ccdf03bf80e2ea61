/*
 * The worker thread of verify-thread.ts: checks packed signature batches with the gateway's
 * fastest Ed25519 verifier (libsodium, else node:crypto) and answers each with one byte per check.
 */
import { parentPort } from 'node:worker_threads';
import { fastestEd25519Verify, loadSodium } from './ed25519.js';
import { verifyPacked } from './signature-batch.js';

const { verify } = fastestEd25519Verify(loadSodium());

parentPort?.on('message', ({ id, bytes }: { id: number; bytes: Uint8Array }) => {
  try {
    const results = verifyPacked(bytes, verify);
    parentPort?.postMessage({ id, results }, [results.buffer]);
  } catch (err) {
    parentPort?.postMessage({ id, error: (err as Error).message });
  }
});
