import type { Duplex } from 'node:stream';
import type { Timers } from '../../protocol/timers.js';
import type { CheckResult } from '../diagnose/check.js';
import type { PortAddress, PortKind } from './address.js';
import { serialTransport, type PortListing } from './serial.js';
import { tcpTransport, type Connect } from './tcp.js';
import { usbLpTransport, type OpenFile } from './usb-lp.js';

/**
 * What we need of a port to a device: serialport's SerialPort / SerialPortStream fit, and so does
 * every transport here. Its life is told as serialport tells it: open(), close(), and 'close' when
 * the device goes away (cable pulled, connection dropped).
 */
export interface SerialPortLike extends Duplex {
  readonly isOpen: boolean;
  open(callback?: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
}

export type OpenSerialPort = (path: string, baudRate: number) => SerialPortLike;

export interface TransportDeps {
  /** Serial ports: serialport's, the simulator's virtual lines, or an Arduino running the terminal. */
  openSerialPort: OpenSerialPort;
  /** USB printer-class devices are polled for what they answer. */
  timers: Timers;
  /** TCP connections; default net.connect. */
  connect?: Connect;
  /** USB printer-class devices; default fs.promises.open. */
  openFile?: OpenFile;
}

/** A port doctor looks for: what it is called, where the config says it is, and which setting says so. */
export interface WantedPort {
  name: string;
  path: string;
  what: string;
  field: string;
}

/** What doctor's presence checks touch, injected so tests can stand in for the machine. */
export interface PresenceDeps {
  /** serialport's SerialPort.list(): needs udev, so may throw or reject (e.g. in a container). */
  list: () => Promise<PortListing[]>;
  exists: (path: string) => boolean;
  /** Whether the path is a character device (follows symlinks); throws if it is not there. */
  isCharacterDevice: (path: string) => boolean;
  /** Resolves once a TCP connection to host:port is made (and closes it), rejects with why not. */
  canConnect: (host: string, port: number, timeoutMs: number) => Promise<void>;
}

type AddressOf<K extends PortKind> = Extract<PortAddress, { kind: K }>;

/** One way to reach a device: how its port is made, and how doctor tells whether the device is there. */
export interface Transport<K extends PortKind> {
  open(address: AddressOf<K>, baudRate: number, deps: TransportDeps): SerialPortLike;
  present(port: WantedPort, address: AddressOf<K>, deps: PresenceDeps): Promise<CheckResult>;
}

/** Every transport, by the kind of address that names it (address.ts). A new one: its file, its spelling in address.ts, a line here. */
const TRANSPORTS: { [K in PortKind]: Transport<K> } = {
  serial: serialTransport,
  tcp: tcpTransport,
  'usb-lp': usbLpTransport,
};

/** The table pairs each kind with its own transport; TypeScript cannot follow that through the union. */
function transportFor(address: PortAddress): Transport<PortKind> {
  return TRANSPORTS[address.kind] as Transport<PortKind>;
}

/** A new port (not yet open) to the device at `address`, of the transport its address names. */
export function openTransport(address: PortAddress, baudRate: number, deps: TransportDeps): SerialPortLike {
  return transportFor(address).open(address as never, baudRate, deps);
}

/** Whether the device at `address` is there, as its transport can tell without opening it for long. */
export function checkPresent(port: WantedPort, address: PortAddress, deps: PresenceDeps): Promise<CheckResult> {
  return transportFor(address).present(port, address as never, deps);
}
