import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPortStream } from '@serialport/stream';
import { describe, expect, it } from 'vitest';
import { Bridge } from '../../bridge/bridge.js';
import { defaultDoctorDeps, runDoctor, type DoctorDeps } from '../../bridge/diagnose/doctor.js';
import { parseConfig, type BridgeConfig, type BridgeConfigInput } from '../../bridge/config.js';
import { boardTerminalOpener, type BoardTerminalDeps } from '../../bridge/terminal/board-terminal.js';
import { silentLogger } from '../../bridge/log.js';
import { FIRMWARE_VERSION } from '../../firmware/core/terminal-core.js';
import { FirmataBoard } from '../../simulator/firmata-board.js';
import { createVirtualLine, virtualSerialBinding } from '../../simulator/virtual-serial-line.js';
import { waitUntil } from '../../simulator/wait.js';
import { useBrokerAndProvince } from '../support/broker-and-province.js';
import { notAudit } from '../support/audit-events.js';
import { inProcessTerminal } from '../support/in-process-terminal.js';

/*
 * The bridge running the terminal itself, on an Arduino with StandardFirmata (emulated, at the far
 * end of a virtual USB cable), as `hcp run` does with a `board` config: the real bridge, the real
 * firmata.js and johnny-five, the firmware core, an embedded broker and the province emulator.
 */

const PINS = { buttons: [2, 3, 4, 5, 6], leds: [8, 9, 10, 11, 12], buzzer: 7 };

let plugged = 0;

const env = useBrokerAndProvince('hcp-board-');
const { config: terminalConfig, helloFrom, api, leds, only, inviteAndPress, recordOf, deliveredOnce } = inProcessTerminal(env, {
  pins: PINS,
  where: 'the Arduino',
  tag: 'BRD',
  hands: (board: FirmataBoard) => ({
    press: (pin) => board.press(pin),
    release: (pin) => board.release(pin),
    led: (pin) => board.output(pin) > 0,
    // johnny-five hands each button's first pulled-up reading to the core as an up edge.
    buttonsReady: () => PINS.buttons.every((pin) => board.pullUp(pin)),
  }),
});

async function plugBoard(): Promise<FirmataBoard> {
  plugged += 1;
  const board = await FirmataBoard.start({ name: `board-e2e-${process.pid}-${plugged}` });
  env.cleanups.push(() => board.unplug());
  return board;
}

const boardConfig = (board: Pick<FirmataBoard, 'hostPath'>): BridgeConfigInput => terminalConfig({ path: board.hostPath, pins: PINS });

const arduinoPorts = (board: FirmataBoard): BoardTerminalDeps['openSerialPort'] => (path, baudRate) =>
  board.openHostPort(path, baudRate) as ReturnType<BoardTerminalDeps['openSerialPort']>;

/** A bridge running the terminal on `board`: a new terminal, or the one `config` is (a restart). */
async function startBridge(board: FirmataBoard, config: BridgeConfig = parseConfig(boardConfig(board))): Promise<Bridge> {
  const bridge = await Bridge.start(config, { openPort: boardTerminalOpener(config, { openSerialPort: arduinoPorts(board), logger: silentLogger }) });
  env.cleanups.push(() => bridge.stop());
  await helloFrom(bridge, board);
  return bridge;
}

describe('a terminal on an Arduino running StandardFirmata, run by the bridge', () => {
  it('takes a rating from a button on the Arduino to the province, once, and lights its LED', async () => {
    const board = await plugBoard();
    const bridge = await startBridge(board);
    expect(bridge.status().link.terminal).toMatchObject({ fw: FIRMWARE_VERSION, serial: bridge.config.terminal.id });
    expect((await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S2001' })).status).toBe(200);

    const id = await inviteAndPress(bridge, board, 3, 'C-1');

    const [record] = await deliveredOnce(bridge, [id]);
    expect(record).toMatchObject({ kind: 'invitation', outcome: 'rated', staffId: 'S2001', rating: { grade: 'dissatisfied', gradeCode: 2 } });

    // Stopping the bridge stops the terminal, and its last words (LEDs off) reach the board.
    expect(leds(board)).toEqual(only(3));
    await bridge.stop();
    env.cleanups.pop();
    await waitUntil(() => leds(board).every((lit) => !lit), 'the LEDs off once the bridge has stopped');
  });

  it('comes back after the USB cable is pulled and plugged in again (a new boot), and rates again', async () => {
    const board = await plugBoard();
    const bridge = await startBridge(board);
    await api(bridge, 'POST', '/api/v1/staff/sign-in', { staffId: 'S2002' });
    const first = await inviteAndPress(bridge, board, 0, 'C-2');
    await recordOf(bridge, first);
    const boot = bridge.status().link.terminal?.boot;

    await board.unplug();
    await waitUntil(() => !bridge.status().link.portOpen, 'the bridge to see the terminal port close');
    await board.plug();
    await helloFrom(bridge, board, boot);

    const second = await inviteAndPress(bridge, board, 1, 'C-3');
    const [, record] = await deliveredOnce(bridge, [first, second]);
    expect(record).toMatchObject({ outcome: 'rated', rating: { grade: 'satisfied' } });
  });

  it('sends what a previous boot journaled and never had acknowledged (journal beside the database)', async () => {
    const board = await plugBoard();
    // A stray press the terminal reported just before the bridge went down, unacknowledged.
    writeFileSync(join(env.dir, 'terminal-journal.json'), JSON.stringify([JSON.stringify({ type: 'stray', grade: 'very_satisfied', ref: 'prev-boot-1' })]));
    env.cleanups.push(async () => rmSync(join(env.dir, 'terminal-journal.json'), { force: true }));
    const bridge = await startBridge(board);
    const event = await env.province.waitFor(() => env.province.recordsOf(bridge.config.terminal.id).find((r) => r.kind === 'event' && r.type === 'stray_press'));
    expect(event).toMatchObject({ kind: 'event', type: 'stray_press', detail: { grade: 'very_satisfied' } });
    await waitUntil(() => bridge.outbox.get(event.id)?.state === 'acked', 'the ack');
    await bridge.stop();
    env.cleanups.pop();
    // The bridge acknowledged it: the next boot has nothing left to send.
    const bridge2 = await startBridge(board, bridge.config);
    expect(bridge2.outbox.get(event.id)?.state).toBe('acked');
    expect(env.province.recordsOf(bridge.config.terminal.id).filter(notAudit)).toHaveLength(1);
  });
});

describe('hcp doctor with a board', () => {
  function doctorDeps(openArduinoPort: DoctorDeps['openArduinoPort'], path: string): DoctorDeps {
    return {
      ...defaultDoctorDeps,
      loadConfig: () => config,
      ports: { ...defaultDoctorDeps.ports, list: async () => [], exists: (p) => p === path },
      openArduinoPort,
      ntpSynced: async () => true,
    };
  }
  let config: BridgeConfig;

  it('reports the sketch on the Arduino and the terminal core hello', async () => {
    const board = await plugBoard();
    config = parseConfig(boardConfig(board));
    const results = await runDoctor('board.yaml', 3000, doctorDeps(arduinoPorts(board), board.hostPath));
    const terminal = results.find((r) => r.name === 'terminal');
    expect(terminal).toMatchObject({ level: 'ok' });
    expect(terminal?.message).toBe(
      `answers on the Arduino at ${board.hostPath}, running StandardFirmata.ino 2.5 (Firmata protocol 2.5): serial ${config.terminal.id}, firmware ${FIRMWARE_VERSION}, protocol v1; not paired yet: the service pairs the terminal that answers at its first start`,
    );
    expect(results.find((r) => r.name === 'broker')?.level).toBe('ok');
  });

  it('says to upload StandardFirmata when the Arduino does not answer Firmata', async () => {
    plugged += 1;
    const line = createVirtualLine(`board-silent-${process.pid}-${plugged}`);
    config = parseConfig(boardConfig({ hostPath: line.bridgePath }));
    const silent: DoctorDeps['openArduinoPort'] = (path, baudRate) =>
      new SerialPortStream({ binding: virtualSerialBinding, path, baudRate, autoOpen: false }) as ReturnType<DoctorDeps['openArduinoPort']>;
    const results = await runDoctor('board.yaml', 500, doctorDeps(silent, line.bridgePath));
    const terminal = results.find((r) => r.name === 'terminal');
    expect(terminal).toMatchObject({ level: 'fail', message: `no Firmata answer on ${line.bridgePath} within 0.5 s: is StandardFirmata uploaded to the Arduino, at 57600 baud?` });
    expect(terminal?.fix?.[0]).toMatch(/StandardFirmata/);
  });
});
