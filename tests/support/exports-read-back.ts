import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/*
 * Exports read back by a reader that is not ours: Debian's Python (/usr/bin/python3, not a pyenv
 * one first on PATH) with its csv module and python3-openpyxl.
 */
const PYTHON = '/usr/bin/python3';
const READER = `
import csv, io, json, sys
import openpyxl
path, kind = sys.argv[1], sys.argv[2]
if kind == 'csv':
    raw = open(path, 'rb').read()
    text = raw.decode('utf-8-sig')
    out = {'bom': raw.startswith(b'\\xef\\xbb\\xbf'), 'crlf': '\\r\\n' in text, 'rows': list(csv.reader(io.StringIO(text, newline='')))}
else:
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    out = {'sheets': wb.sheetnames, 'freeze': ws.freeze_panes, 'bold': bool(ws.cell(1, 1).font.b),
           'rows': [[{'v': c.value, 't': c.data_type, 'f': c.number_format} for c in row] for row in ws.iter_rows()]}
print(json.dumps(out, ensure_ascii=False, default=str))
`;

export interface CsvReadBack {
  bom: boolean;
  crlf: boolean;
  rows: string[][];
}

export interface XlsxCell {
  v: string | number | null;
  /** openpyxl's data type: s (string), n (number), f (formula), … */
  t: string;
  f: string;
}
export interface XlsxReadBack {
  sheets: string[];
  freeze: string | null;
  bold: boolean;
  rows: XlsxCell[][];
}

export async function readBack(body: Buffer, kind: 'csv'): Promise<CsvReadBack>;
export async function readBack(body: Buffer, kind: 'xlsx'): Promise<XlsxReadBack>;
export async function readBack(body: Buffer, kind: 'csv' | 'xlsx'): Promise<CsvReadBack | XlsxReadBack> {
  const dir = mkdtempSync(join(tmpdir(), 'hcp-export-'));
  try {
    const path = join(dir, `export.${kind}`);
    writeFileSync(path, body);
    const { stdout } = await promisify(execFile)(PYTHON, ['-c', READER, path, kind], { maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout) as CsvReadBack | XlsxReadBack;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
