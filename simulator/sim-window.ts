import { SerialPortStream } from '@serialport/stream';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { Bridge, type BridgeDeps } from '../bridge/bridge.js';
import { parseConfig, type BridgeConfigInput } from '../bridge/config.js';
import type { SerialPortLike } from '../bridge/terminal/terminal-link.js';
import { printerProfileSchema } from '../bridge/printer/receipt-layout.js';
import { apiRefusalSchema, TECHNICIAN_HEADER, type ApiRefusal, type invitationRequestSchema } from '../protocol/http-api.js';
import { createVirtualLine, virtualSerialBinding, type VirtualLine } from './virtual-serial-line.js';
import { MemoryJournal } from './memory-journal.js';
import { NetworkPrinter } from './network-printer.js';
import { UsbPrinter } from './usb-printer.js';
import { printerModel, VirtualPrinter, type PrinterCore } from './virtual-printer.js';
import { VirtualTerminal } from './virtual-terminal.js';
import { waitUntil } from './wait.js';

export interface SimWindowOptions {
  brokerUrl: string;
  windowNo: string;
  terminalId: string;
  dbPath: string;
  areaCode?: string;
  hallCode?: string;
  hallName?: string;
  httpPort?: number;
  /** Any further bridge config (invitation timeouts, grade profile, …). */
  config?: Partial<Omit<BridgeConfigInput, 'terminal' | 'serial' | 'database'>> & {
    database?: Partial<Omit<BridgeConfigInput['database'], 'path'>>;
  };
  bridgeDeps?: Omit<BridgeDeps, 'openPort'>;
  /** Wait for the broker connection before resolving (default true; false when it is cut). */
  waitForBroker?: boolean;
  /** The terminal has its own sound module: it plays the bridge's `say` clips (terminal.clips). */
  soundModule?: boolean;
  /**
   * A virtual receipt printer with the bridge's printer settings (evaluation URL defaulted; the
   * printer model matches the profile); null for a window without a printer (the default).
   */
  printer?: SimPrinterOptions | null;
}

export type SimPrinterOptions = Partial<Omit<NonNullable<BridgeConfigInput['printer']>, 'path'>> & {
  /**
   * How the bridge reaches it: serial, a second virtual cable (the default); tcp, a network
   * printer (tcp://127.0.0.1:port); usb, a USB printer-class device (a pty in place of /dev/usb/lp0).
   */
  via?: 'serial' | 'tcp' | 'usb';
  /** false: a USB printer that never answers a status request. */
  answersStatus?: boolean;
};

/** Starts the printer a window asked for; `path` is its address for the bridge's config. */
async function startPrinter(name: string, options: SimPrinterOptions): Promise<{ printer: PrinterCore; path: string }> {
  const { via = 'serial', answersStatus, profile } = options;
  const core = { columns: profile?.columns ?? 32, model: printerModel(printerProfileSchema.parse(profile ?? {})), answersStatus };
  if (via === 'tcp') {
    const printer = await NetworkPrinter.start(core);
    return { printer, path: printer.address };
  }
  if (via === 'usb') {
    const printer = await UsbPrinter.start(core);
    return { printer, path: printer.address };
  }
  const line = createVirtualLine(`${name}-printer`);
  return { printer: await VirtualPrinter.start({ ...core, devicePath: line.devicePath }), path: line.bridgePath };
}

/** One simulated service window: a virtual terminal wired by a virtual cable to a real bridge. */
export class SimWindow {
  private constructor(
    readonly windowNo: string,
    readonly terminalId: string,
    readonly line: VirtualLine,
    /** The receipt printer, when the window has one (on a serial cable, the network or USB). */
    readonly printer: PrinterCore | undefined,
    private currentTerminal: VirtualTerminal,
    private current: Bridge,
    private readonly startBridge: () => Promise<Bridge>,
    private readonly startTerminal: () => Promise<VirtualTerminal>,
  ) {}

  /** The window's terminal (a new boot of it after rebootTerminal). */
  get terminal(): VirtualTerminal {
    return this.currentTerminal;
  }

  /**
   * Power-cycles the terminal: a new boot with a new boot id, its RAM (state, timers) gone; its
   * journal of unacknowledged reports survives. Resolves once the new boot runs.
   */
  async rebootTerminal(): Promise<VirtualTerminal> {
    await this.currentTerminal.stop();
    this.currentTerminal = await this.startTerminal();
    return this.currentTerminal;
  }

  /** The window's bridge (a new one after restartBridge). */
  get bridge(): Bridge {
    return this.current;
  }

  /**
   * Stops the bridge and starts a new one on the same database and cable, as a restart of the
   * service would; `whileDown` runs in between. Resolves once it is running (not necessarily
   * hearing the terminal yet).
   */
  async restartBridge(whileDown?: () => Promise<void>): Promise<Bridge> {
    await this.current.stop();
    await whileDown?.();
    this.current = await this.startBridge();
    return this.current;
  }

  static async start(opts: SimWindowOptions): Promise<SimWindow> {
    const line = createVirtualLine(opts.terminalId);
    // The terminal's flash: what it has not had acknowledged survives a reboot.
    const journal = new MemoryJournal();
    const startTerminal = (): Promise<VirtualTerminal> =>
      VirtualTerminal.start({ devicePath: line.devicePath, serial: `SIM-${opts.terminalId}`, journal, soundModule: opts.soundModule ?? false });
    const terminal = await startTerminal();
    const { via: _via, answersStatus: _answers, ...printerConfig } = opts.printer ?? {};
    const started = opts.printer ? await startPrinter(opts.terminalId, opts.printer) : undefined;
    // The technician's token, in a file of its own as on a Pi, unless the test gives one.
    const technicianTokenFile = opts.config?.http?.technicianTokenFile ?? `${opts.dbPath}.technician-token`;
    if (opts.config?.http?.technicianTokenFile === undefined) writeFileSync(technicianTokenFile, randomBytes(16).toString('hex'), { mode: 0o600 });
    const config = parseConfig({
      ...opts.config,
      terminal: {
        id: opts.terminalId,
        areaCode: opts.areaCode ?? '330106',
        hallCode: opts.hallCode ?? 'SIM-HALL',
        hallName: opts.hallName ?? '模拟政务服务大厅',
        windowNo: opts.windowNo,
      },
      serial: { path: line.bridgePath },
      database: { ...opts.config?.database, path: opts.dbPath },
      mqtt: { url: opts.brokerUrl, ...opts.config?.mqtt },
      // The simulator's machine clock is good; the clock-honesty tests say otherwise explicitly.
      clock: { trust: 'system', ...opts.config?.clock },
      // A simulated citizen presses at once: no fast_press flag unless a test asks for one.
      invitation: { ...opts.config?.invitation, flags: { minPressMs: 0, ...opts.config?.invitation?.flags } },
      // A window alone hears from no province roster: its staff sign in unchecked unless the test
      // (or the hall, which sends the roster) says otherwise.
      http: { allowUnverifiedStaff: true, technicianTokenFile, ...opts.config?.http, host: '127.0.0.1', port: opts.httpPort ?? 0 },
      ...(started && {
        printer: { evaluationUrl: 'https://hcp.province.example/rate', pollSeconds: 1, statusTimeoutMs: 300, ...printerConfig, path: started.path },
      }),
    });
    const startBridge = (): Promise<Bridge> =>
      Bridge.start(config, {
        ...opts.bridgeDeps,
        openPort: (path, baudRate) =>
          new SerialPortStream({ binding: virtualSerialBinding, path, baudRate, autoOpen: false }) as SerialPortLike,
      });
    const window = new SimWindow(opts.windowNo, opts.terminalId, line, started?.printer, terminal, await startBridge(), startBridge, startTerminal);
    await window.ready({ broker: opts.waitForBroker ?? true });
    return window;
  }

  /** Resolves once the bridge hears the terminal (and, unless told otherwise, the broker). */
  async ready({ broker = true, timeoutMs = 10_000 }: { broker?: boolean; timeoutMs?: number } = {}): Promise<void> {
    await waitUntil(() => {
      const status = this.bridge.status();
      return status.link.alive && status.link.terminal && (!broker || status.broker.connected);
    }, `window ${this.windowNo}: terminal hello${broker ? ' and broker connection' : ''}`, { timeoutMs });
  }

  /** Calls the bridge's HTTP API as the window PC would; the body is for the caller to check (invitationIdOf, refusalOf). */
  async api(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
    const token = this.bridge.config.http.token;
    const res = await fetch(`${this.bridge.httpUrl}${path}`, {
      method,
      headers: {
        // A call without a body says it comes from a program, as the console does; the bridge refuses it otherwise.
        ...(body !== undefined ? { 'content-type': 'application/json' } : method !== 'GET' && { 'x-hcp-request': '1' }),
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  /**
   * `POST /api/v1/invitations`: the new invitation's id; throws with the bridge's answer unless it
   * is 201. A `test` invitation is the technician's: it is sent with the technician token.
   */
  async invite(request: z.input<typeof invitationRequestSchema>): Promise<string> {
    return invitationIdOf(await this.api('POST', '/api/v1/invitations', request, request.test ? this.asTechnician() : {}));
  }

  /** The header a technician's call carries: the token in http.technicianTokenFile. */
  asTechnician(): Record<string, string> {
    const file = this.bridge.config.http.technicianTokenFile;
    return file === undefined ? {} : { [TECHNICIAN_HEADER]: readFileSync(file, 'utf8').trim() };
  }

  /** `POST /api/v1/staff/sign-in`, with the PIN when the window checks it; throws with the bridge's answer unless it is 200. */
  async signIn(staffId: string, pin?: string): Promise<void> {
    const answer = await this.api('POST', '/api/v1/staff/sign-in', { staffId, ...(pin !== undefined && { pin }) });
    if (answer.status !== 200) throw new Error(`sign-in refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  }

  async stop(): Promise<void> {
    await this.bridge.stop();
    await this.terminal.stop();
    await this.printer?.stop();
  }
}

/** An answer of the bridge's HTTP API: its status and its JSON, unchecked. */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

const createdInvitationSchema = z.looseObject({ id: z.string() });

/** The id of the invitation an answer created; throws with what the bridge said unless it answered 201. */
export function invitationIdOf(answer: ApiAnswer): string {
  if (answer.status !== 201) throw new Error(`invitation refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  return createdInvitationSchema.parse(answer.body).id;
}

/** The refusal the bridge answered with; throws if the answer is not one. */
export function refusalOf(answer: ApiAnswer): ApiRefusal['error'] {
  return apiRefusalSchema.parse(answer.body).error;
}
