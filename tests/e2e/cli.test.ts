import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { hcp } from '../support/run-hcp.js';

// jsqr is CommonJS typed as an ES module: under NodeNext its function is the default's default.
const jsQR = jsQRModule.default;


const dir = mkdtempSync(join(tmpdir(), 'hcp-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hcp CLI', () => {
  it("`hcp start` runs a simulated hall whose ratings reach the gateway's database, then stops cleanly", async () => {
    const { code, stdout } = await hcp(['start', '--windows', '2', '--duration', '8', '--seed', '3']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/broker +mqtt:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(/W01 +terminal SIM-SIM-W01 \(firmware \d+\.\d+\.\d+\)/);
    expect(stdout).toMatch(/W0[12] +invite +\S+/);
    expect(stdout).toMatch(/gateway +hall-gateway: hcp\/v1\/\+\/records, .* into the embedded database/);
    expect(stdout).toMatch(/W0[12] +acked +1 record\(s\) accepted by the gateway/);
    const received = /gateway database holds (\d+) invitations, (\d+) rated/.exec(stdout);
    expect(Number(received?.[1])).toBeGreaterThan(0);
    // On past the gateway: the emulated provincial interface, and the page the receipts lead to.
    expect(stdout).toMatch(/province +http:\/\/127\.0\.0\.1:\d+ \(emulated 好差评 interface/);
    expect(stdout).toMatch(/rate later +http:\/\/127\.0\.0\.1:\d+\/rate/);
    const atProvince = /province emulator received (\d+) services/.exec(stdout);
    expect(Number(atProvince?.[1])).toBeGreaterThan(0);
  }, 60_000);

  it('`hcp run` refuses a bad config, naming the field, with exit code 2', async () => {
    const file = join(dir, 'bridge.yaml');
    writeFileSync(file, 'terminal: { id: T1, areaCode: "3301", hallCode: H, windowNo: "1" }\nserial: { path: /dev/null }\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndatabase: { path: x.db }\n');
    const { code, stderr } = await hcp(['run', '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`config file ${file} is invalid:`);
    expect(stderr).toContain('terminal.areaCode: administrative area code (行政区划代码) must be 6 digits');
  });

  it('`hcp gateway` says in one line what to fix: a bad config (exit 2), a database or broker it cannot reach (exit 1), never a stack', async () => {
    const bad = join(dir, 'gateway-bad.yaml');
    writeFileSync(bad, 'mqtt: { url: "mqtt://127.0.0.1:1", sharedGroup: "a/b" }\ndatabase: { url: "postgres://gw:secret@127.0.0.1:1/hcp" }\n');
    const refused = await hcp(['gateway', '--config', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('mqtt.sharedGroup: a share name');
    expect(refused.stderr).toContain('database.url: holds a password');
    expect(refused.stderr).not.toContain('secret');

    const unreachable = join(dir, 'gateway-unreachable.yaml');
    writeFileSync(unreachable, 'mqtt: { url: "mqtt://127.0.0.1:1" }\ndatabase: { url: "postgres://gw@127.0.0.1:1/hcp" }\nlog: { level: warn }\n');
    const down = await hcp(['gateway', '--config', unreachable]);
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toMatch(/^hcp gateway: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/hcp: .*Check that the server runs/);
    expect(down.stderr).not.toMatch(/\n\s+at /);

    const noBroker = join(dir, 'gateway-no-broker.yaml');
    writeFileSync(noBroker, `mqtt: { url: "mqtt://127.0.0.1:1" }\ndatabase: { dataDir: ${JSON.stringify(join(dir, 'gateway-db'))} }\nlog: { level: warn }\n`);
    const lonely = await hcp(['gateway', '--config', noBroker]);
    expect(lonely.code).toBe(1);
    expect(lonely.stderr.trim()).toMatch(/^hcp gateway: cannot connect to the broker at mqtt:\/\/127\.0\.0\.1:1: /);
  }, 60_000);

  it('`hcp receipt --preview` writes a PNG of the receipt whose QR scans to the signed evaluation URL', async () => {
    const out = join(dir, 'receipt.png');
    const { code, stdout } = await hcp(['receipt', '--preview', '--out', out, '--qr', 'raster']);
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${out}: a 32-column receipt, QR as a raster image`);
    const png = PNG.sync.read(readFileSync(out));
    expect(png.width).toBe(384 + 16);
    const scanned = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    expect(scanned?.data).toMatch(/^https:\/\/hcp\.province\.example\/rate\?v=1&t=T-330106-A03&i=[0-9a-f-]{36}&c=330106202611220001&ts=\d+&s=[\w-]{86}$/);
  });

  it('rejects a bad flag with what is expected', async () => {
    const { code, stderr } = await hcp(['start', '--windows', 'many']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--windows.*expected a whole number from 1 to 50/);
  });
});
