import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { A4_POINTS } from '../../gateway/qr-sign/layout.js';
import { hcp } from '../support/run-hcp.js';
import { decodeQr, readPdf } from '../support/qr-sign-read.js';

const dir = mkdtempSync(join(tmpdir(), 'hcp-qr-sign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const URL = 'https://hall.example.gov.cn/rate?window=A03';
const sign = (out: string, ...more: string[]): string[] => ['gateway', 'qr-sign', '--window', 'A03', '--hall-name', '西湖区政务服务中心', '--area', '杭州市西湖区', '--url', URL, '--out', out, ...more];

describe('hcp gateway qr-sign', () => {
  it('writes the sign as a PNG whose QR code leads to the URL, and says where', async () => {
    const out = join(dir, 'sign.png');
    const { code, stdout, stderr } = await hcp(sign(out));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(new RegExp(`^wrote ${out}: the A4 sign for 西湖区政务服务中心 窗口 A03 \\(PNG, \\d+ KB, drawn at 200 dpi\\); its QR code leads to ${URL.replace(/[?.]/g, '\\$&')}$`));
    const image = PNG.sync.read(readFileSync(out));
    expect([image.width, image.height]).toEqual([1654, 2339]);
    expect(decodeQr(image)).toBe(URL);
  }, 60_000);

  it('writes a one-page A4 PDF carrying the same sign', async () => {
    const out = join(dir, 'sign.pdf');
    const { code, stdout } = await hcp(sign(out));
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${out}: the A4 sign for 西湖区政务服务中心 窗口 A03 (PDF,`);
    const facts = readPdf(readFileSync(out));
    expect(facts.header).toMatch(/^%PDF-/);
    expect([facts.pages, facts.mediaBoxes, facts.xrefSound]).toEqual([1, [`0 0 ${A4_POINTS.width} ${A4_POINTS.height}`], true]);
    expect(decodeQr(PNG.sync.read(facts.images[0]!.png))).toBe(URL);
  }, 60_000);

  it('refuses a bad option with exit status 1 and one line naming it; writes nothing', async () => {
    const out = join(dir, 'bad.png');
    const cases: [string[], RegExp][] = [
      [sign(out).map((a) => (a === URL ? 'ftp://hall.example/rate' : a)), /^hcp gateway qr-sign: --url: expected the rating page as an http:\/\/ or https:\/\/ URL/],
      [sign(out).map((a) => (a === 'A03' ? 'A0123456789012345' : a)), /^hcp gateway qr-sign: --window: expected the window number as its terminal has it: 1-16 characters/],
      [sign(join(dir, 'sign.jpg')), /^hcp gateway qr-sign: --out: expected the file to write, ending in \.pdf or \.png/],
      [sign(out).map((a) => (a === '西湖区政务服务中心' ? '政务服务'.repeat(15) : a)), /^hcp gateway qr-sign: --hall-name: too long for the sign/],
      [['gateway', 'qr-sign', '--url', URL, '--out', out], /^hcp gateway qr-sign: --window: required \(expected string\); --hall-name: required \(expected string\)$/],
      [sign(join(dir, 'no-such-folder', 'sign.png')), /^hcp gateway qr-sign: --out: cannot write .*no-such-folder.*ENOENT/],
      [sign(out, '--colour', 'red'), /^error: unknown option '--colour'/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await hcp(args);
      expect({ code, stdout, lines: stderr.trimEnd().split('\n').length }, stderr).toEqual({ code: 1, stdout: '', lines: 1 });
      expect(stderr.trimEnd()).toMatch(message);
    }
    expect(() => readFileSync(out)).toThrow(/ENOENT/);
  }, 60_000);
});
