import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBroker, defaultConnect } from '../../bridge/uplink/probe.js';
import { parseConfig } from '../../bridge/config.js';
import { MosquittoBroker } from '../../simulator/mosquitto.js';
import { ProvinceEmulator } from '../../simulator/province.js';
import { SimWindow } from '../../simulator/sim-window.js';
import { waitUntil } from '../../simulator/wait.js';
import { onCI } from '../support/brokers.js';

/*
 * mqtts:// as a province runs it: Debian's Mosquitto with a TLS listener whose certificate is
 * signed by a private CA (made here with openssl). The terminal trusts it only through
 * mqtt.tls.ca.
 */
const dir = mkdtempSync(join(tmpdir(), 'hcp-tls-'));
const file = (name: string): string => join(dir, name);
let broker: MosquittoBroker;
let province: ProvinceEmulator;
let url: string;

function makeCertificates(): void {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=hcp test province CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('broker.key'), '-out', file('broker.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', file('broker.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('broker.pem'), '-days', '2', '-extfile', file('san.ext'));
  // Mosquitto started as root drops to its own user, which must read them (test keys only).
  chmodSync(dir, 0o755);
  for (const name of ['broker.pem', 'broker.key']) chmodSync(file(name), 0o644);
}

describe.skipIf(!MosquittoBroker.available() && !onCI())('MQTT over TLS (Mosquitto)', () => {
  beforeAll(async () => {
    makeCertificates();
    broker = await MosquittoBroker.start({ extraConfig: [`certfile ${file('broker.pem')}`, `keyfile ${file('broker.key')}`] });
    url = broker.url.replace('mqtt://', 'mqtts://');
    province = await ProvinceEmulator.start({ url, mqtt: { ca: readFileSync(file('ca.pem')) } });
  });
  afterAll(async () => {
    await province?.stop();
    await broker?.stop();
  });

  it('a terminal with the CA in mqtt.tls.ca delivers its rating over mqtts://', async () => {
    const w = await SimWindow.start({ brokerUrl: url, windowNo: 'TLS1', terminalId: `T-TLS-${process.pid}`, dbPath: file('w.db'), config: { mqtt: { url, tls: { ca: file('ca.pem') } } } });
    try {
      await w.api('POST', '/api/v1/staff/sign-in', { staffId: 'S-TLS' });
      await w.api('POST', '/api/v1/invitations', { services: [{ itemCode: 'X', caseNo: 'C-TLS-1' }] });
      await waitUntil(() => w.terminal.core.state === 'invited', 'the invitation');
      await w.terminal.press(0);
      const rating = await province.waitFor(() => province.recordsOf(w.terminalId).find((r) => r.kind === 'invitation'), { timeoutMs: 10_000 });
      expect(rating).toMatchObject({ outcome: 'rated', rating: { grade: 'very_satisfied' } });
    } finally {
      await w.stop();
    }
  });

  it('doctor: without the CA the broker is not trusted, and says which setting to fix; with it, fine', async () => {
    const base = { terminal: { id: 'T-TLS-DOC', areaCode: '330106', hallCode: 'H', windowNo: '1' }, serial: { path: '/dev/null' }, database: { path: file('d.db') } };
    const untrusted = await checkBroker(parseConfig({ ...base, mqtt: { url } }), { connect: defaultConnect, timeoutMs: 3000 });
    expect(untrusted).toMatchObject({ level: 'fail', message: expect.stringMatching(/certificate is not trusted/), fix: expect.arrayContaining([expect.stringMatching(/mqtt\.tls\.ca/)]) });
    const trusted = await checkBroker(parseConfig({ ...base, mqtt: { url, tls: { ca: file('ca.pem') } } }), { connect: defaultConnect, timeoutMs: 3000 });
    expect(trusted).toMatchObject({ level: 'ok' });
    const missing = await checkBroker(parseConfig({ ...base, mqtt: { url, tls: { ca: file('nope.pem') } } }), { connect: defaultConnect, timeoutMs: 3000 });
    expect(missing).toMatchObject({ level: 'fail', message: expect.stringMatching(/^mqtt\.tls\.ca: cannot read .*nope\.pem/) });
  });
});
