import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Ack } from '../protocol/acks.js';
import type { LinkRejectReason } from '../protocol/link.js';
import type { OpenInvitation } from '../bridge/desk/invitation-desk.js';
import type { StoredEvent, StoredInvitation } from '../protocol/records.js';
import type { Logger } from '../bridge/log.js';
import { EmbeddedBroker } from './broker.js';
import { ProvinceEmulator } from './province.js';
import { seededRandom } from './random.js';
import type { PrintedReceipt } from './printed-receipt.js';
import { SAMPLE_STAFF_PIN, SAMPLE_STAFF_ROSTER } from './sample-staff.js';
import { SimWindow } from './sim-window.js';
import { runWindowTraffic, type CitizenProfile } from './traffic.js';
import { waitUntil } from './wait.js';

export interface HallOptions {
  windows: number;
  /** Folder for the bridges' databases (one file per window). */
  dataDir: string;
  seed?: number;
  timeoutSeconds?: number;
  brokerPort?: number;
  /** HTTP port of window 1; window n listens on port + n - 1. 0: any free port. */
  httpPort?: number;
  /** Run the scripted staff and citizens (default true). */
  traffic?: boolean;
  citizens?: CitizenProfile;
  logger?: Logger;
}

/** Everything that happens in the hall, for a live view. */
export type HallActivity =
  | { kind: 'invited'; windowNo: string; invitation: OpenInvitation }
  | { kind: 'closed'; windowNo: string; record: StoredInvitation }
  | { kind: 'event'; windowNo: string; event: StoredEvent }
  | { kind: 'acked'; windowNo: string; ack: Ack }
  | { kind: 'printed'; windowNo: string; receipt: PrintedReceipt }
  | { kind: 'frameRejected'; windowNo: string; reason: LinkRejectReason; detail: string }
  | { kind: 'broker'; windowNo: string; state: 'connected' | 'disconnected' };

/** A simulated service hall: N windows, an embedded broker and the province emulator. */
export class SimulatedHall extends EventEmitter<{ activity: [HallActivity] }> {
  private readonly abort = new AbortController();
  private traffic: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly broker: EmbeddedBroker,
    readonly province: ProvinceEmulator,
    readonly windows: SimWindow[],
  ) {
    super();
    for (const window of windows) this.relay(window);
  }

  static async start(options: HallOptions): Promise<SimulatedHall> {
    const broker = await EmbeddedBroker.start({ port: options.brokerPort ?? 0 });
    const province = await ProvinceEmulator.start({ url: broker.url });
    const windows: SimWindow[] = [];
    try {
      for (let n = 1; n <= options.windows; n++) {
        const windowNo = `W${String(n).padStart(2, '0')}`;
        // A folder per window: its key (terminal-key.pem, which seals its records) lives beside its database.
        const windowDir = join(options.dataDir, windowNo);
        mkdirSync(windowDir, { recursive: true });
        // The province's staff roster, retained before the window connects: its staff sign in by PIN.
        await province.publishConfig(`SIM-${windowNo}`, { staffRoster: SAMPLE_STAFF_ROSTER });
        windows.push(
          await SimWindow.start({
            brokerUrl: broker.url,
            windowNo,
            terminalId: `SIM-${windowNo}`,
            dbPath: join(windowDir, 'hcp.db'),
            httpPort: options.httpPort ? options.httpPort + n - 1 : 0,
            // The scripted citizens think 0.6-3 s: some presses are fast enough to be flagged.
            config: {
              invitation: { timeoutSeconds: options.timeoutSeconds ?? 12, deviceGraceSeconds: 5, flags: { minPressMs: 800 } },
              http: { allowUnverifiedStaff: false },
            },
            // A receipt with the QR for rating later, when nobody rated at the counter.
            printer: { print: 'not_rated' },
            bridgeDeps: options.logger ? { logger: options.logger } : {},
          }),
        );
      }
      // Each window hears its retained roster just after it connects: staff can sign in from here on.
      await Promise.all(windows.map((w) => waitUntil(() => w.bridge.status().staffSignIn.roster, `the staff roster at ${w.windowNo}`, { timeoutMs: 10_000 })));
    } catch (err) {
      await Promise.allSettled(windows.map((w) => w.stop()));
      await province.stop();
      await broker.stop();
      throw err;
    }
    const hall = new SimulatedHall(broker, province, windows);
    if (options.traffic ?? true) hall.startTraffic(options.seed ?? 1, options.citizens);
    return hall;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.traffic;
    await Promise.allSettled(this.windows.map((w) => w.stop()));
    await this.province.stop();
    await this.broker.stop();
  }

  private startTraffic(seed: number, citizens?: CitizenProfile): void {
    this.traffic = Promise.allSettled(
      this.windows.map((window, i) =>
        runWindowTraffic(window, {
          random: seededRandom(seed * 1000 + i),
          staffId: SAMPLE_STAFF_ROSTER.staff[i]!.staffId,
          pin: SAMPLE_STAFF_PIN,
          signal: this.abort.signal,
          ...(citizens && { citizens }),
        }),
      ),
    );
  }

  private relay(window: SimWindow): void {
    const { windowNo, bridge } = window;
    const emit = (activity: HallActivity): boolean => this.emit('activity', activity);
    window.printer?.on('receipt', (receipt) => emit({ kind: 'printed', windowNo, receipt }));
    bridge.on('invitation', (invitation) => emit({ kind: 'invited', windowNo, invitation }));
    bridge.on('closed', (record) => emit({ kind: 'closed', windowNo, record }));
    bridge.on('event', (event) => emit({ kind: 'event', windowNo, event }));
    bridge.on('acked', (ack) => emit({ kind: 'acked', windowNo, ack }));
    bridge.on('frameRejected', (reason, detail) => emit({ kind: 'frameRejected', windowNo, reason, detail }));
    bridge.on('broker', (state) => emit({ kind: 'broker', windowNo, state }));
  }
}
