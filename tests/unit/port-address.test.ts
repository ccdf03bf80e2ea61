import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { ADDRESS_EXPECTED, formatAddress, parseAddress } from '../../bridge/transport/address.js';

describe('port addresses', () => {
  it('reads each transport from its address', () => {
    expect(parseAddress('/dev/ttyUSB0')).toEqual({ ok: true, address: { kind: 'serial', path: '/dev/ttyUSB0' } });
    expect(parseAddress('/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0')).toMatchObject({ ok: true, address: { kind: 'serial' } });
    expect(parseAddress('tcp://192.168.1.50:9100')).toEqual({ ok: true, address: { kind: 'tcp', host: '192.168.1.50', port: 9100 } });
    expect(parseAddress('tcp://printer.hall.local:9100/')).toMatchObject({ ok: true, address: { host: 'printer.hall.local', port: 9100 } });
    expect(parseAddress('tcp://[::1]:4001')).toEqual({ ok: true, address: { kind: 'tcp', host: '::1', port: 4001 } });
    expect(parseAddress('/dev/usb/lp0')).toEqual({ ok: true, address: { kind: 'usb-lp', path: '/dev/usb/lp0' } });
    expect(parseAddress('/dev/usb/lp12')).toMatchObject({ ok: true, address: { kind: 'usb-lp' } });
    expect(parseAddress('usblp:/dev/receipt-printer')).toEqual({ ok: true, address: { kind: 'usb-lp', path: '/dev/receipt-printer' } });
  });

  it('says what is wrong, and what was expected', () => {
    const message = (text: unknown) => {
      const parsed = parseAddress(text);
      return parsed.ok ? undefined : parsed.message;
    };
    expect(message('ttyUSB0')).toBe(`expected ${ADDRESS_EXPECTED}`);
    expect(message('')).toBe(`expected ${ADDRESS_EXPECTED}`);
    expect(message(42)).toBe(`expected ${ADDRESS_EXPECTED}`);
    expect(message('tcp://10.0.0.5')).toMatch(/needs a port: 9100/);
    expect(message('tcp://10.0.0.5:0')).toMatch(/out of range/);
    expect(message('tcp://10.0.0.5:99999')).toMatch(/not a valid tcp:\/\/host:port/);
    expect(message('tcp://u:p@10.0.0.5:9100')).toMatch(/no user name/);
    expect(message('tcp://10.0.0.5:9100/queue')).toMatch(/nothing after the port/);
    expect(message('udp://10.0.0.5:9100')).toMatch(/"udp": is no transport here/);
    expect(message('usblp:lp0')).toMatch(/absolute path/);
    expect(message('/dev/tty\nUSB0')).toMatch(/control characters/);
  });

  it('shows an address as it would be written', () => {
    for (const text of ['/dev/ttyUSB0', 'tcp://10.0.0.5:9100', 'tcp://[fe80::1]:9100', '/dev/usb/lp0']) {
      const parsed = parseAddress(text);
      expect(parsed.ok && formatAddress(parsed.address)).toBe(text);
    }
  });

  it('never throws, whatever it is given: a typed address or a message', () => {
    const hostile = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.webUrl(),
      fc.constantFrom('tcp://', 'tcp:', 'tcp://:', 'tcp://[', 'tcp://[::1', 'usblp:', '/dev/usb/lp', 'TCP://x:1', 'tcp://%00:1').chain((head) =>
        fc.string({ unit: 'binary' }).map((tail) => head + tail),
      ),
      fc.tuple(fc.constantFrom('tcp://', '/dev/usb/lp', '/dev/tty'), fc.string({ maxLength: 3000 })).map(([a, b]) => a + b),
      fc.anything(),
    );
    fc.assert(
      fc.property(hostile, (input) => {
        const parsed = parseAddress(input);
        if (parsed.ok) {
          expect(['serial', 'tcp', 'usb-lp']).toContain(parsed.address.kind);
          if (parsed.address.kind === 'tcp') expect(parsed.address.port).toBeGreaterThanOrEqual(1);
          else expect(parsed.address.path.startsWith('/')).toBe(true);
        } else {
          expect(parsed.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the config takes each transport for the printer, and refuses a printer device for the terminal', () => {
    const base = {
      terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H', windowNo: '1' },
      mqtt: { url: 'mqtts://broker.example:8883' },
      database: { path: '/var/lib/hcp/hcp.db' },
    };
    const printer = (path: string) => ({ path, evaluationUrl: 'https://hcp.example/rate' });
    for (const path of ['/dev/ttyUSB1', 'tcp://192.168.1.50:9100', '/dev/usb/lp0']) {
      expect(parseConfig({ ...base, serial: { path: '/dev/ttyUSB0' }, printer: printer(path) }).printer?.path).toBe(path);
    }
    expect(parseConfig({ ...base, serial: { path: 'tcp://10.0.0.9:4001' } }).serial?.path).toBe('tcp://10.0.0.9:4001');
    expect(() => parseConfig({ ...base, serial: { path: '/dev/ttyUSB0' }, printer: printer('COM3') })).toThrow(
      `printer.path: expected ${ADDRESS_EXPECTED}`,
    );
    expect(() => parseConfig({ ...base, serial: { path: '/dev/usb/lp0' } })).toThrow(/serial\.path: \/dev\/usb\/lp0 is a USB printer-class device; expected a serial port path/);
  });
});
