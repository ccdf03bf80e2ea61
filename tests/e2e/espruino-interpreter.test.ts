import { describe, expect, it } from 'vitest';
import { BUTTON_PINS, LED_PINS } from '../../firmware/espruino/config.js';
import { GRADES } from '../../protocol/grades.js';
import { invitationIdOf } from '../../simulator/sim-window.js';
import type { BridgeProcess } from '../support/bridge-process.js';
import { BROKERS } from '../support/brokers.js';
import { notAudit } from '../support/audit-events.js';
import type { EspruinoInterpreter} from '../support/espruino-interpreter.js';
import { linkLine, linuxBundle, pinLevels, pinMarker, pressPin, restartEspruino, startEspruino } from '../support/espruino-interpreter.js';
import { usePtyRig } from '../support/pty-rig.js';

/*
 * Issue 17: the terminal's bundle on Espruino's own interpreter with a Pico's 5,100 variables,
 * loaded from its flash as a board runs it after save(), its Serial1 on a socat pty to the real
 * bridge (`hcp run`, a child process), the embedded broker and the province emulator. Buttons are
 * pressed and LEDs read through the test build's board port (firmware/espruino/linux-board.ts).
 * The rig's virtual terminal is stopped before any bridge runs: the Espruino is the terminal here.
 */
const TERMINAL_ID = 'T-330106-ESPRUINO';
/** What the interpreter built for Linux answers to getSerial(). */
const SERIAL = 'espruino-00000000-addeadde-addeadde';
const SERVICE = { itemCode: '330106-XK-0012', itemName: '食品经营许可' };

const rig = usePtyRig(SERIAL, BROKERS.find((kind) => kind.name === 'embedded') ?? (BROKERS[0] as (typeof BROKERS)[number]));

/** The bridge hears the Espruino (its hello taken: paired, tagged) and is connected upstream. */
const linked = rig.linked;

async function invite(b: BridgeProcess, caseNo: string): Promise<string> {
  return invitationIdOf(await b.api('POST', '/api/v1/invitations', { services: [{ ...SERVICE, caseNo }] }));
}

/** Resolves once every LED is lit (an invitation shown), read from the board port's console lines since `from`. */
async function allLit(board: EspruinoInterpreter, from: number): Promise<void> {
  const lit = (): boolean => LED_PINS.every((pin) => pinLevels(board.lines.slice(from))[pin] === true);
  await board.waitFor(lit, { from, timeoutMs: 20_000 });
}

/** Presses the button; resolves with the LEDs it left (the first LED_PINS.length pin changes after it: the thanks). */
async function press(board: EspruinoInterpreter, button: number): Promise<boolean[]> {
  const from = board.lines.length;
  await pressPin(board, BUTTON_PINS[button] as string);
  const changes = board.lines.slice(from).flatMap((line) => {
    const marker = pinMarker(line);
    return marker && LED_PINS.includes(marker.pin) ? [marker] : [];
  });
  return LED_PINS.map((pin) => changes.slice(0, LED_PINS.length).find((c) => c.pin === pin)?.on ?? false);
}

/** The records of invitation `id` the province holds, once the bridge has delivered everything. */
async function delivered(b: BridgeProcess, id: string) {
  await rig.province.waitFor(() => rig.province.recordsOf(TERMINAL_ID).find((r) => r.id === id), { timeoutMs: 60_000 });
  await b.waitForStatus((s) => s.backlog.pending === 0, 'the outbox empty');
  return rig.province.recordsOf(TERMINAL_ID).filter((r) => r.id === id);
}

describe("the terminal's bundle on Espruino's interpreter with a Pico's memory, on a pty to the real bridge", () => {
  it('says hello after power-up, pairs, takes an invitation, and a press reaches the province exactly once; after a reset its journal is replayed and the rating still arrives once', async () => {
    await rig.terminal.stop();
    let board = await startEspruino('pico');
    linkLine(board.dir, rig.line.devicePath);
    await board.writeStorage('.bootcde', await linuxBundle());
    board = await restartEspruino(board); // power-up: the saved code starts, as after save()
    const b = await rig.startBridge(TERMINAL_ID);
    try {
      // Hello after boot, with the firmware, serial and protocol version; the bridge pairs with it.
      const status = await b.waitForStatus(linked, 'the bridge to hear the Espruino', { timeoutMs: 60_000 });
      expect(status.link.terminal).toMatchObject({ serial: SERIAL, proto: 1, fw: expect.stringMatching(/^\d+\.\d+\.\d+/), boot: expect.stringMatching(/^[0-9a-f]{16}$/) });
      expect(status.link.pairing.serial).toBe(SERIAL);
      expect((await b.api('POST', '/api/v1/staff/sign-in', { staffId: 'S1001' })).status).toBe(200);

      const first = await invite(b, 'ESP-0001');
      await allLit(board, 0);
      // Thanks: only the pressed button's LED stays lit.
      expect(await press(board, 1)).toEqual([false, true, false, false, false]);
      expect(await delivered(b, first)).toEqual([expect.objectContaining({ kind: 'invitation', outcome: 'rated', rating: expect.objectContaining({ grade: GRADES[1] }) })]);
      await b.waitForStatus((s) => linked(s) && s.invitation === null, 'the window free again');

      // A reset with a rating unacknowledged: the bridge is down when the citizen presses, the
      // terminal resends into the line, then loses power; both come back.
      const shown = board.lines.length;
      const second = await invite(b, 'ESP-0002');
      await allLit(board, shown);
      await b.kill('SIGKILL');
      expect(await press(board, 3)).toEqual([false, false, false, true, false]);
      // Resent meanwhile into a line nobody reads, and kept in flash: then the power goes.
      board = await restartEspruino(board);
      expect(board.errors).toEqual([]);
      await b.restart();
      const again = await b.waitForStatus(linked, 'the restarted bridge to hear the Espruino again', { timeoutMs: 60_000 });
      // A new boot, whose hello names the invitation its journal holds a report for.
      expect(again.link.terminal).toMatchObject({ serial: SERIAL, pending: [second] });
      expect(again.link.terminal?.boot).not.toBe(status.link.terminal?.boot);
      expect(await delivered(b, second)).toEqual([expect.objectContaining({ outcome: 'rated', rating: expect.objectContaining({ grade: GRADES[3] }) })]);
      await b.waitForStatus((s) => linked(s) && s.invitation === null, 'the window free again');

      // Acks lost: the terminal stops reading its line, so it resends a rating the bridge has
      // taken; the bridge takes the resends as duplicates. After a reset the journal replays it once more.
      const third = await invite(b, 'ESP-0003');
      await allLit(board, 0);
      // (A handler that drops the data, not none: Serial1 on Linux with no data handler at all
      // crashed the interpreter when bytes came, ASSERT(jsvHasStringExt(it->var)).)
      await board.eval('(Serial1.removeAllListeners("data"),Serial1.on("data",function(){}))');
      expect(await press(board, 0)).toEqual([true, false, false, false, false]);
      await b.waitForStatus((s) => s.link.counters.duplicates >= 2, 'resends of the rating taken as duplicates', { timeoutMs: 30_000 });
      board = await restartEspruino(board);
      expect(await delivered(b, third)).toEqual([expect.objectContaining({ outcome: 'rated', rating: expect.objectContaining({ grade: GRADES[0] }) })]);
      await b.waitForStatus((s) => linked(s) && s.link.terminal?.pending?.[0] === third && s.link.unacknowledged === 0, 'the replayed rating acknowledged');

      // Once per invitation, whatever was resent and replayed.
      expect(rig.province.recordsOf(TERMINAL_ID).filter(notAudit).map((r) => r.id)).toEqual([first, second, third]);
      expect(board.errors).toEqual([]);
    } finally {
      await b.stop();
      await board.kill();
    }
  }, 300_000);
});
