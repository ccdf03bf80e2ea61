import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './wait.js';

/*
 * A real serial line between two processes: a pair of pseudo-terminals joined by socat. Each end
 * is a tty that serialport's real binding (@serialport/bindings-cpp) opens like /dev/ttyUSB0, so a
 * bridge in a child process (`hcp run`) can talk to a virtual terminal in the test process.
 *
 *   socat -d -d pty,raw,echo=0,link=DIR/bridge pty,raw,echo=0,link=DIR/device
 *
 * What socat 1.7.4 (Debian 12) does with these options, as tried out:
 * - Without `wait-slave`, socat opens the slave side of each pty itself and keeps it open (see
 *   /proc/PID/fd). A process that opens an end and closes it, or dies, therefore never makes the
 *   master see a hang-up: socat keeps running, and the end can be opened again (a bridge killed
 *   and restarted). No `ignoreeof` is needed, and both links exist before the transfer loop starts.
 * - With `wait-slave`, socat does not hold the slave: it waits for the first end to be opened
 *   before even creating the second, and when that end is closed the master reads EIO ("probably
 *   PTY closed"), which socat takes as EOF and exits 0. Adding `ignoreeof` keeps it alive, but then
 *   it polls the dead master once a second. Both are worse for us, so neither is used.
 * - `raw,echo=0` only set up the tty until someone opens it: serialport's open applies its own raw
 *   termios (and the baud rate, which a pty ignores) to the same tty.
 * - Unlike a real wire, bytes sent towards an end that nobody has open are not lost at once: they
 *   wait in that pty's input queue. serialport's open flushes the queue (tcflush TCIOFLUSH), so a
 *   restarted bridge starts clean, except for what socat still held in its own buffer; the line
 *   protocol drops such stale frames by checksum and sequence number. When the queue is full
 *   (a few KB: minutes of heartbeats), socat blocks and the writer at the other end sees
 *   backpressure until the end is opened again.
 * If socat ever dies (it should not: only stop() ends it), the line is dead for good: `exited`
 * says so, and both ends' ports see a disconnect (serialport closes them with a DisconnectedError).
 */

export interface PtyLineOptions {
  /** The socat executable. Default `socat` on the PATH. */
  socat?: string;
  /** How long to wait for socat to create both ends. Default 5000 ms. */
  timeoutMs?: number;
}

export interface PtyLineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Lines still running, stopped on process exit whatever the test did. */
const live = new Set<PtyLine>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const line of live) line.stopNow();
  });
}

/** Dies with its parent where util-linux's setpriv is present (always on Debian), so a killed test run leaves no socat behind. */
const SETPRIV = '/usr/bin/setpriv';

/** A socat-made pty pair: open `bridgePath` at one end and `devicePath` at the other. */
export class PtyLine {
  #exit: PtyLineExit | undefined;
  #exited: Promise<PtyLineExit>;
  #stderr = '';
  #stopping: Promise<void> | undefined;

  private constructor(
    /** Where the bridge opens its serial port (a symlink to a /dev/pts/N). */
    readonly bridgePath: string,
    /** Where the terminal opens its serial port. */
    readonly devicePath: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        resolve(this.#exit);
      });
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      // -d -d notices: the pty names and the start of the transfer loop; kept for error messages.
      if (this.#stderr.length < 64_000) this.#stderr += chunk;
    });
  }

  /** Starts socat and resolves once both ends exist. */
  static async start({ socat = 'socat', timeoutMs = 5000 }: PtyLineOptions = {}): Promise<PtyLine> {
    const dir = mkdtempSync(join(tmpdir(), 'hcp-pty-'));
    const bridgePath = join(dir, 'bridge');
    const devicePath = join(dir, 'device');
    const socatArgs = ['-d', '-d', `pty,raw,echo=0,link=${bridgePath}`, `pty,raw,echo=0,link=${devicePath}`];
    const [command, args] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', socat, ...socatArgs]]
      : [socat, socatArgs];
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const line = new PtyLine(bridgePath, devicePath, dir, child);
    live.add(line);
    installExitHook();
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      live.delete(line);
    });
    try {
      await waitUntil(
        () => spawnError ?? line.#exit ?? (existsSync(bridgePath) && existsSync(devicePath)),
        `socat to create ${bridgePath} and ${devicePath}`,
        { timeoutMs },
      );
      if (spawnError) throw new Error(`cannot run socat (${socat}): ${spawnError.message}`);
      if (line.#exit) {
        throw new Error(`socat exited (code ${line.#exit.code}, signal ${line.#exit.signal}) before creating the pty pair:\n${line.#stderr}`);
      }
    } catch (err) {
      await line.stop();
      throw err;
    }
    return line;
  }

  /** Set once socat has exited: after stop(), or unexpectedly (then the line is dead). */
  get exited(): PtyLineExit | undefined {
    return this.#exit;
  }

  /** socat's diagnostics (-d -d): the pty names, and why it stopped if it did. */
  get log(): string {
    return this.#stderr;
  }

  /** Kills socat (both ends see a disconnect) and removes the links. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (!this.#exit && this.child.pid !== undefined) {
        this.child.kill('SIGTERM');
        await this.#exited;
      }
      live.delete(this);
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }

  /** For the process 'exit' hook: nothing asynchronous runs any more. */
  stopNow(): void {
    if (!this.#exit) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
