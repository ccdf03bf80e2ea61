import { join } from 'node:path';
import { expect } from 'vitest';
import type { Bridge } from '../../bridge/bridge.js';
import type { BridgeConfigInput } from '../../bridge/config.js';
import { DEFAULT_DEBOUNCE_MS } from '../../firmware/core/terminal-core.js';
import type { UpstreamRecord } from '../../protocol/records.js';
import { waitUntil } from '../../simulator/wait.js';
import { notAudit } from './audit-events.js';
import type { BrokerAndProvince } from './broker-and-province.js';

/*
 * The end-to-end tests of a terminal the bridge runs itself (bridge/terminal/board-terminal.ts and
 * gpio-terminal.ts: johnny-five and the firmware core in the bridge's process), whatever board it
 * is on: its config, its hello, the staff API, and a citizen's press read from the board's LEDs.
 * Each board is played through a few hands (BoardHands): the Pi's GPIO on the simulator's fake
 * chip, an Arduino on the Firmata emulator.
 */

/** johnny-five's Button reports an edge this long after the pin settles. */
const JOHNNY_FIVE_DEBOUNCE_MS = 7;

/**
 * Resolves once a button's change has been taken: johnny-five's debounce, then the core's time of
 * quiet (a time rule, so a wait of that time).
 */
export const buttonSettles = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, JOHNNY_FIVE_DEBOUNCE_MS + DEFAULT_DEBOUNCE_MS + 20));

/** The lines of the buttons, LEDs and buzzer, left to right: GPIO offsets or Arduino pins. */
export interface TerminalPins {
  buttons: number[];
  leds: number[];
  buzzer: number;
}

/** What a test does to a board, and reads from it, by line (a GPIO offset or an Arduino pin). */
export interface BoardHands {
  press(line: number): void;
  release(line: number): void;
  /** Whether the LED on this line is lit. */
  led(line: number): boolean;
  /** Whether the board has every button's first reading (pull-up set): waited for after the hello when given. */
  buttonsReady?(): boolean;
}

export interface InProcessTerminalOptions<B> {
  pins: TerminalPins;
  /** Where the terminal is, as the waits name it: "the GPIO", "the Arduino". */
  where: string;
  /** Begins each config's terminal id (`<tag>-<pid>-<n>`), window number (its first letter) and database file name. */
  tag: string;
  hands: (board: B) => BoardHands;
}

export interface ApiAnswer {
  status: number;
  body: { id?: string };
}

export interface InProcessTerminal<B> {
  /** A config of its own (terminal id, window, database) for a bridge on the file's broker: `board` and `over` as given. */
  config(board: BridgeConfigInput['board'], over?: Partial<BridgeConfigInput>): BridgeConfigInput;
  /**
   * Resolves once the bridge has the terminal's hello (from a boot other than `after`) and its
   * buttons can be pressed (on `board`, once it has their first reading; no board: the hello and the
   * debounce times only, as for lines the test reaches another way).
   */
  helloFrom(bridge: Bridge, board?: B, after?: string): Promise<void>;
  /** Calls the bridge's staff API. */
  api(bridge: Bridge, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer>;
  /** The LEDs, left to right. */
  leds(board: B): boolean[];
  /** The LEDs with only `button`'s lit. */
  only(button: number): boolean[];
  /** Invites for a case (201, or the test fails): the invitation's id. */
  invite(bridge: Bridge, caseNo: string): Promise<string>;
  /** Invites for a case, waits for every LED, presses `button` until the terminal takes it (its LED alone lit), lets go; the invitation's id. */
  inviteAndPress(bridge: Bridge, board: B, button: number, caseNo: string): Promise<string>;
  /** The province's record of this id, once it has arrived. */
  recordOf(bridge: Bridge, id: string): Promise<UpstreamRecord>;
  /**
   * The province's records of these ids (in their order), once each has arrived and the bridge has
   * its ack; the test fails unless they are all the province has of the terminal (audit aside), once each.
   */
  deliveredOnce(bridge: Bridge, ids: readonly string[]): Promise<UpstreamRecord[]>;
}

const SERVICE = { itemCode: '330106-XK-0012', itemName: '食品经营许可' };

/** For a test file: its terminals on boards of one kind, on the file's broker and province. */
export function inProcessTerminal<B>(env: BrokerAndProvince, { pins, where, tag, hands }: InProcessTerminalOptions<B>): InProcessTerminal<B> {
  let count = 0;

  const api = async (bridge: Bridge, method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(`${bridge.httpUrl}${path}`, {
      method,
      ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as { id?: string } };
  };
  const invite = async (bridge: Bridge, caseNo: string): Promise<string> => {
    const invited = await api(bridge, 'POST', '/api/v1/invitations', { services: [{ ...SERVICE, caseNo }] });
    expect(invited.status).toBe(201);
    if (!invited.body.id) throw new Error('the invitation has no id');
    return invited.body.id;
  };
  const leds = (board: B): boolean[] => pins.leds.map((line) => hands(board).led(line));
  const only = (button: number): boolean[] => pins.leds.map((_, i) => i === button);

  return {
    config(board, over = {}) {
      count += 1;
      return {
        terminal: { id: `${tag}-${process.pid}-${count}`, areaCode: '330106', hallCode: '330106-ZWFW-01', windowNo: `${tag[0]}${count}` },
        board,
        mqtt: { url: env.broker.url },
        database: { path: join(env.dir, `${tag.toLowerCase()}-${count}.db`) },
        clock: { trust: 'system' },
        invitation: { flags: { minPressMs: 0 } },
        http: { port: 0, allowUnverifiedStaff: true },
        log: { level: 'silent' },
        ...over,
      };
    },

    async helloFrom(bridge, board, after) {
      await waitUntil(() => {
        const { alive, terminal } = bridge.status().link;
        return alive && terminal && terminal.boot !== after;
      }, `the terminal on ${where} to say hello`);
      const buttonsReady = board === undefined ? undefined : hands(board).buttonsReady;
      if (buttonsReady) await waitUntil(() => buttonsReady(), 'the pull-up on every button');
      await buttonSettles();
    },

    api,
    leds,
    only,
    invite,

    async inviteAndPress(bridge, board, button, caseNo) {
      const id = await invite(bridge, caseNo);
      await waitUntil(() => leds(board).every(Boolean), 'every LED lit for the invitation');
      const line = pins.buttons[button] as number;
      hands(board).press(line);
      // The chosen grade alone stays lit: the terminal has the press.
      await waitUntil(() => leds(board).join() === only(button).join(), `only LED ${button} lit`);
      hands(board).release(line);
      return id;
    },

    recordOf: (bridge, id) => env.province.waitFor(() => env.province.recordsOf(bridge.config.terminal.id).find((r) => r.id === id)),

    async deliveredOnce(bridge, ids) {
      const terminalId = bridge.config.terminal.id;
      await env.province.waitFor(() => {
        const have = new Set(env.province.recordsOf(terminalId).map((r) => r.id));
        return ids.every((id) => have.has(id));
      });
      await waitUntil(() => ids.every((id) => bridge.outbox.get(id)?.state === 'acked'), `the province's ack of ${ids.join(', ')}`);
      const records = env.province.recordsOf(terminalId).filter(notAudit);
      expect(records.map((r) => r.id).sort()).toEqual([...ids].sort());
      return ids.map((id) => records.find((r) => r.id === id) as UpstreamRecord);
    },
  };
}
