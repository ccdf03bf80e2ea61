import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PgliteDatabase } from '../../gateway/db/pglite.js';

/*
 * A new PGlite runs initdb first: a second WebAssembly program and a second instance, several
 * seconds of CPU each time (most of a gateway suite's setup on a 2-core CI machine). A data folder
 * made by initdb once and dumped (dumpDataDir) starts in about a quarter of that. The dump is of
 * the folder exactly as initdb leaves it, before any migration: a database opened from it is the
 * empty database PgliteDatabase.open(undefined) gives.
 *
 * The dump is kept in the temporary folder, one per PGlite version, shared by the test processes
 * (the first that needs it makes it; written beside and renamed, so a reader never sees half of it).
 */

const PGLITE_PACKAGE = new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url);
const PGLITE_VERSION = (JSON.parse(readFileSync(PGLITE_PACKAGE, 'utf8')) as { version: string }).version;
const TEMPLATE_PATH = join(tmpdir(), `hcp-test-pglite-initdb-${PGLITE_VERSION}.tar`);

let template: Promise<Blob> | undefined;

async function readOrMakeTemplate(): Promise<Blob> {
  try {
    return new Blob([readFileSync(TEMPLATE_PATH)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fresh = await PGlite.create();
  try {
    const dump = await fresh.dumpDataDir('none');
    const partial = `${TEMPLATE_PATH}.${randomUUID()}.partial`;
    try {
      writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
      renameSync(partial, TEMPLATE_PATH);
    } finally {
      rmSync(partial, { force: true });
    }
    return dump;
  } finally {
    await fresh.close();
  }
}

/** The in-memory gateway database of a test, empty (not migrated), as PgliteDatabase.open(undefined) opens it, without running initdb again. */
export async function openTestPglite(): Promise<PgliteDatabase> {
  template ??= readOrMakeTemplate();
  let dump: Blob;
  try {
    dump = await template;
  } catch (err) {
    template = undefined;
    throw err;
  }
  return PgliteDatabase.open(undefined, { loadDataDir: dump });
}
