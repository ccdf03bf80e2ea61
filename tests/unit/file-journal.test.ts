import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileJournal } from '../../firmware/adapters/file-journal.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileJournal', () => {
  it('keeps what was saved last, across instances (a reboot)', () => {
    const path = join(dir, 'j.json');
    new FileJournal(path).save(['{"type":"stray"}', '{"type":"rating"}']);
    expect(new FileJournal(path).load()).toEqual(['{"type":"stray"}', '{"type":"rating"}']);
    new FileJournal(path).save([]);
    expect(new FileJournal(path).load()).toEqual([]);
  });

  it('starts empty when there is no file or it is unreadable', () => {
    expect(new FileJournal(join(dir, 'none.json')).load()).toEqual([]);
    writeFileSync(join(dir, 'torn.json'), '["{\\"type\\":');
    expect(new FileJournal(join(dir, 'torn.json')).load()).toEqual([]);
  });
});
