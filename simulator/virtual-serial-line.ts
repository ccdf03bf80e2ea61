import { once } from 'node:events';
import { SerialPortStream, type OpenOptions } from '@serialport/stream';
import { SerialPortMock } from 'serialport';

/*
 * A virtual null-modem cable built on serialport's mock binding. The mock is one-ended: emitData()
 * feeds a port's reader, and what a port writes only lands in lastWrite. This binding wraps it so
 * that every completed write is delivered to the reader at the other end of the cable.
 *
 * Open ports on a virtual line with openVirtualPort() (or any SerialPortStream given
 * virtualSerialBinding): a plain SerialPortMock opened on the same path writes into the void.
 */

// serialport's binding contract. Taken from @serialport/stream because the typings of
// @serialport/bindings-interface do not resolve under NodeNext (its exports map has no types).
type BindingInterface = OpenOptions['binding'];
type BindingPort = Awaited<ReturnType<BindingInterface['open']>>;

// The one mock binding serialport itself uses: a second copy would hold a second set of ports.
const mock = SerialPortMock.binding;
type MockPort = Awaited<ReturnType<typeof mock.open>>;

/** Each virtual port path mapped to the path at the other end of its cable. */
const peerPaths = new Map<string, string>();
/** The port last opened at each path; a closed one is skipped, so entries need no cleanup. */
const endsByPath = new Map<string, MockPort>();

/** How a line mangles what crosses it (both directions): for noise and fragmentation faults. */
export interface LineImpairment {
  /** Deliver each write in pieces of at most this many bytes, one piece per event-loop turn. */
  maxChunk?: number;
  /** Called per write; true garbles one byte of it (the receiver must drop the frame). */
  corrupt?: () => boolean;
  /**
   * Called per line (frame) in a write, without its newline; true garbles one byte of that line
   * only. Per line because one write may carry several frames (the port joins writes made in one turn).
   */
  corruptLine?: (line: string) => boolean;
}
const impairments = new Map<string, LineImpairment>();
/** Per receiving path, the delivery still under way: pieces of later writes wait their turn. */
const deliveries = new Map<string, Promise<void>>();
let garbled = 0;

function deliver(path: string, data: string | Buffer): boolean {
  const end = endsByPath.get(path);
  if (!end?.isOpen) return false; // nobody listening: the bytes are lost, as on a real wire
  end.emitData(data);
  return true;
}

/** Flips a bit in the middle of data[start, end): stays printable ASCII for letters and digits, so only the CRC can tell. */
function garble(data: Buffer, start: number, end: number): void {
  garbled += 1;
  const at = start + Math.floor((end - start) / 2);
  data[at] = (data[at] ?? 0) ^ 0x04;
}

function carry(to: string, data: Buffer, impairment: LineImpairment | undefined): void {
  if (!impairment) {
    deliver(to, data);
    return;
  }
  if (impairment.corrupt?.() && data.length > 2) garble(data, 0, data.length);
  if (impairment.corruptLine) {
    let start = 0;
    for (let end = data.indexOf(0x0a); end >= 0; start = end + 1, end = data.indexOf(0x0a, start)) {
      if (end - start > 2 && impairment.corruptLine(data.subarray(start, end).toString('latin1'))) garble(data, start, end);
    }
  }
  const size = impairment.maxChunk ?? data.length;
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size));
  const previous = deliveries.get(to) ?? Promise.resolve();
  const done = pieces.reduce<Promise<void>>(
    (chain, piece) => chain.then(() => new Promise<void>((resolve) => setImmediate(() => (deliver(to, piece), resolve())))),
    previous,
  );
  deliveries.set(to, done);
}

/** How many writes the impairments garbled, across all lines. */
export function garbledWrites(): number {
  return garbled;
}

/**
 * A binding port that hands every call on to `port`, except those given in `own`: the one place
 * where a wrapper of a binding port lists the whole binding contract.
 */
export function delegatingPort(port: BindingPort, own: Partial<Pick<BindingPort, 'read' | 'write' | 'close'>>): BindingPort {
  const delegate: BindingPort = {
    get openOptions() {
      return port.openOptions;
    },
    get isOpen() {
      return port.isOpen;
    },
    read: (buffer, offset, length) => port.read(buffer, offset, length),
    write: (buffer) => port.write(buffer),
    close: () => port.close(),
    update: (options) => port.update(options),
    set: (options) => port.set(options),
    get: () => port.get(),
    getBaudRate: () => port.getBaudRate(),
    flush: () => port.flush(),
    drain: () => port.drain(),
  };
  return Object.assign(delegate, own);
}

function wrapPort(port: MockPort, path: string): BindingPort {
  return delegatingPort(port, {
    async write(buffer) {
      await port.write(buffer);
      const peer = peerPaths.get(path);
      if (peer !== undefined) carry(peer, Buffer.from(buffer), impairments.get(path));
    },
    async close() {
      // A write still in flight when the mock closes fails with an error that is not marked as
      // cancelled, and SerialPortStream then emits 'error'. A real UART finishes its last byte.
      await port.writeOperation;
      await port.close();
    },
  });
}

/** The mock binding, with writes carried across each virtual line to the peer port. */
export const virtualSerialBinding: BindingInterface = {
  list: () => mock.list(),
  async open(options) {
    const port = await mock.open(options);
    endsByPath.set(options.path, port);
    return wrapPort(port, options.path);
  },
};

export interface VirtualLine {
  /** Where the bridge opens its serial port. */
  readonly bridgePath: string;
  /** Where the terminal opens its serial port. */
  readonly devicePath: string;
  /** Bytes appear on the bridge end's reader as if they came down the wire (line noise). False if that end is not open. */
  injectToBridge(data: string | Buffer): boolean;
  /** Bytes appear on the device end's reader as if they came down the wire (line noise). False if that end is not open. */
  injectToDevice(data: string | Buffer): boolean;
  /** Mangles what crosses the line from now on (both ways, or one); null makes it clean again. */
  impair(impairment: LineImpairment | null, direction?: 'both' | 'toBridge' | 'toDevice'): void;
}

/**
 * Creates the two mock ports of a cable named `name`. Names are unique per process: creating a
 * line twice throws, because the mock binding would silently replace the first line's ports.
 */
export function createVirtualLine(name: string): VirtualLine {
  if (!/^[\w.-]+$/.test(name)) {
    throw new Error(`virtual line name "${name}" must be letters, digits, '_', '.' or '-'`);
  }
  const bridgePath = `/dev/virtual/${name}-bridge`;
  const devicePath = `/dev/virtual/${name}-device`;
  if (peerPaths.has(bridgePath)) throw new Error(`virtual line "${name}" already exists`);
  mock.createPort(bridgePath);
  mock.createPort(devicePath);
  peerPaths.set(bridgePath, devicePath);
  peerPaths.set(devicePath, bridgePath);
  return {
    bridgePath,
    devicePath,
    injectToBridge: (data) => deliver(bridgePath, data),
    injectToDevice: (data) => deliver(devicePath, data),
    impair: (impairment, direction = 'both') => {
      // An impairment is kept by the sending end: toDevice mangles what the bridge writes.
      const senders = direction === 'both' ? [bridgePath, devicePath] : direction === 'toDevice' ? [bridgePath] : [devicePath];
      for (const path of senders) {
        if (impairment) impairments.set(path, impairment);
        else impairments.delete(path);
      }
    },
  };
}

/** Opens one end of a virtual line; listen for 'open' (or write at once: writes queue until then). */
export function openVirtualPort(path: string, baudRate = 115200): SerialPortStream {
  return new SerialPortStream({ binding: virtualSerialBinding, path, baudRate });
}

/** Closes a port, waiting for it to finish opening first; a port that is not open is left alone. */
export async function closeVirtualPort(port: SerialPortStream): Promise<void> {
  if (port.opening) await once(port, 'open');
  if (!port.isOpen) return;
  await new Promise<void>((resolve, reject) => port.close((err) => (err ? reject(err) : resolve())));
}
