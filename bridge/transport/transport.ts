import type { Duplex } from 'node:stream';
import type { Timers } from '../../protocol/timers.js';
import type { PortAddress } from './address.js';
import { TcpPort, type Connect } from './tcp.js';
import { UsbLpPort, type OpenFile } from './usb-lp.js';

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

/** A new port (not yet open) to the device at `address`, of the transport its address names. */
export function openTransport(address: PortAddress, baudRate: number, deps: TransportDeps): SerialPortLike {
  switch (address.kind) {
    case 'serial':
      return deps.openSerialPort(address.path, baudRate);
    case 'tcp':
      return new TcpPort(address, deps.connect);
    case 'usb-lp':
      return new UsbLpPort(address.path, deps.timers, deps.openFile);
  }
}
