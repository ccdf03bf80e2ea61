/*
 * Prefills a fresh bridge database with N pending invitation records (real schema, real
 * Outbox.append, transactions of 10k), in a process of its own so that the process measured
 * afterwards does not carry the prefill's garbage.
 *
 *   tsx bench/prefill.ts --db <path> --n <count>
 * Prints `PREFILLED {"ms": …, "dbBytes": …}` on stdout.
 */
import { parseArgs } from 'node:util';
import { prefillOutbox } from './lib.js';

const { values } = parseArgs({ options: { db: { type: 'string' }, n: { type: 'string' } } });
if (!values.db || !(Number(values.n) > 0)) throw new Error('prefill: --db <path> --n <count> required');
const result = prefillOutbox(values.db, Number(values.n));
process.stdout.write(`PREFILLED ${JSON.stringify(result)}\n`);
