import { z } from 'zod';

/*
 * Where a device is reached, as the config spells it. One parser for the terminal's and the
 * printer's address, used by the config schema (refusing a bad one with what was expected), by
 * the transport factory and by doctor's probes alike.
 *
 *   /dev/ttyUSB0, /dev/serial/by-id/…   a serial port (any absolute path not below)
 *   tcp://192.168.1.50:9100             a TCP socket: a network printer, or a terminal behind ser2net
 *   /dev/usb/lp0                        a USB printer-class device, opened and written as a file
 *   usblp:/dev/receipt-printer          the same under another name (a udev symlink)
 */

export type PortAddress =
  | { kind: 'serial'; path: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'usb-lp'; path: string };

export type PortKind = PortAddress['kind'];

export const ADDRESS_EXPECTED = 'a serial port path such as /dev/ttyUSB0, tcp://host:port, or /dev/usb/lp0';

/** The kernel's usblp devices; anything else that is a path is taken for a serial port. */
const USB_LP_PATH = /^\/dev\/usb\/lp\d+$/;
const USB_LP_PREFIX = 'usblp:';
/** Longer than any real path: a bound, so that hostile input stays cheap to refuse. */
const MAX_LENGTH = 1024;

function tcpAddress(text: string): PortAddress | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a valid tcp://host:port address`;
  }
  if (url.username || url.password) return 'tcp://host:port takes no user name or password';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) return 'tcp://host:port takes nothing after the port';
  // WHATWG URL keeps IPv6 literals in brackets; net.connect wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return 'tcp://host:port needs a host, e.g. tcp://192.168.1.50:9100';
  if (url.port === '') return 'tcp://host:port needs a port: 9100 for a network printer, the ser2net port for a terminal';
  const port = Number(url.port);
  if (port < 1 || port > 65535) return `port ${url.port} is out of range (1-65535)`;
  return { kind: 'tcp', host, port };
}

function absolutePath(path: string, what: string): string | undefined {
  if (!path.startsWith('/')) return `${what} must be an absolute path (starting with /)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return `${what} must not contain control characters`;
  return undefined;
}

/** Reads an address; a string in place of one is the reason it is not one. */
function readAddress(text: string): PortAddress | string {
  if (text.length > MAX_LENGTH) return `an address is at most ${MAX_LENGTH} characters`;
  if (/^tcp:/i.test(text)) return tcpAddress(text);
  if (text.startsWith(USB_LP_PREFIX)) {
    const path = text.slice(USB_LP_PREFIX.length);
    return absolutePath(path, 'the path after usblp:') ?? { kind: 'usb-lp', path };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) return `${JSON.stringify(text.split(':')[0])}: is no transport here; expected ${ADDRESS_EXPECTED}`;
  if (!text.startsWith('/')) return `expected ${ADDRESS_EXPECTED}`;
  const problem = absolutePath(text, 'a port path');
  if (problem) return problem;
  return USB_LP_PATH.test(text) ? { kind: 'usb-lp', path: text } : { kind: 'serial', path: text };
}

/** Text to a typed address, or an issue saying what was expected: the one parser of addresses. */
export const portAddressSchema = z.string({ error: `expected ${ADDRESS_EXPECTED}` }).transform((text, ctx): PortAddress => {
  const read = readAddress(text);
  if (typeof read !== 'string') return read;
  ctx.addIssue({ code: 'custom', message: read });
  return z.NEVER;
});

const KIND_WORDS: Record<PortKind, string> = { serial: 'a serial port', tcp: 'a TCP address', 'usb-lp': 'a USB printer-class device' };

/**
 * An address in the config, checked but kept as written (status, logs and doctor show it so);
 * `kinds` are the transports the device can be on.
 */
function addressSchema(kinds: readonly PortKind[], expected: string) {
  return z.string({ error: `expected ${expected}` }).check((ctx) => {
    const parsed = parseAddress(ctx.value);
    if (!parsed.ok) ctx.issues.push({ code: 'custom', input: ctx.value, message: parsed.message });
    else if (!kinds.includes(parsed.address.kind)) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `${ctx.value} is ${KIND_WORDS[parsed.address.kind]}; expected ${expected}` });
    }
  });
}

/** The printer: on any of the three. */
export const printerAddressSchema = addressSchema(['serial', 'tcp', 'usb-lp'], ADDRESS_EXPECTED);
/** The terminal: a serial line, or one carried over TCP (ser2net); never a printer device. */
export const terminalAddressSchema = addressSchema(['serial', 'tcp'], 'a serial port path such as /dev/ttyUSB0, or tcp://host:port (ser2net)');

export type ParsedAddress = { ok: true; address: PortAddress } | { ok: false; message: string };

/** Parses anything (never throws): the typed address, or what is wrong with it. */
export function parseAddress(input: unknown): ParsedAddress {
  const result = portAddressSchema.safeParse(input);
  if (result.success) return { ok: true, address: result.data };
  return { ok: false, message: result.error.issues[0]?.message ?? `expected ${ADDRESS_EXPECTED}` };
}

/** For an address the config schema has already accepted: a bad one here is a bug, and throws. */
export function portAddress(text: string): PortAddress {
  const parsed = parseAddress(text);
  if (!parsed.ok) throw new TypeError(`bad port address ${JSON.stringify(text)}: ${parsed.message}`);
  return parsed.address;
}

/** How an address is shown in logs and doctor lines. */
export function formatAddress(address: PortAddress): string {
  if (address.kind === 'tcp') return `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  return address.path;
}
