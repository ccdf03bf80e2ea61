import { setTimeout as delay } from 'node:timers/promises';
import { BUTTON_COUNT } from '../protocol/grades.js';
import type { Service } from '../protocol/records.js';
import { between, pick, type Random } from './random.js';
import { invitationIdOf, type SimWindow } from './sim-window.js';

/** A few real-looking service items (事项) of a district hall. */
export const SAMPLE_ITEMS: ReadonlyArray<Pick<Service, 'itemCode' | 'itemName'>> = [
  { itemCode: '330106-XK-0012', itemName: '食品经营许可' },
  { itemCode: '330106-DJ-0031', itemName: '个体工商户设立登记' },
  { itemCode: '330106-GG-0107', itemName: '居民身份证换领' },
  { itemCode: '330106-QT-0220', itemName: '不动产登记资料查询' },
  { itemCode: '330106-GF-0415', itemName: '社会保障卡申领' },
];

/** How citizens at the simulated hall rate: mostly good, some not at all (times out). */
export interface CitizenProfile {
  /** Share of invitations that get a press. */
  rateShare: number;
  /** Weights of buttons 0 (非常满意) … 4 (非常不满意). */
  gradeWeights: readonly number[];
  /** Share of invitations after which someone also presses with no invitation open. */
  strayShare: number;
  thinkMs: readonly [number, number];
  gapMs: readonly [number, number];
}

export const DEFAULT_CITIZENS: CitizenProfile = {
  rateShare: 0.85,
  gradeWeights: [70, 18, 7, 3, 2],
  strayShare: 0.05,
  thinkMs: [600, 3000],
  gapMs: [800, 2500],
};

/** Waits `ms`, or less if the hall stops; a stopped hall waits for nothing. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

function weightedIndex(random: Random, weights: readonly number[]): number {
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i] ?? 0;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

/**
 * One window's scripted day: a staff member signs in, serves citizens one after another through
 * the bridge's HTTP API (as the window PC would), and the citizen presses a button, or not.
 */
export async function runWindowTraffic(
  window: SimWindow,
  options: { random: Random; staffId: string; pin?: string; citizens?: CitizenProfile; signal: AbortSignal },
): Promise<void> {
  const { random, signal } = options;
  const citizens = options.citizens ?? DEFAULT_CITIZENS;
  await window.signIn(options.staffId, options.pin);
  let caseCounter = 0;
  while (!signal.aborted) {
    await sleep(between(random, ...citizens.gapMs), signal);
    if (signal.aborted) break;
    const batch = random() < 0.1 ? 2 : 1;
    const item = pick(random, SAMPLE_ITEMS);
    const services = Array.from({ length: batch }, () => ({
      ...item,
      caseNo: `${window.terminalId}-${String(++caseCounter).padStart(5, '0')}`,
    }));
    const invited = await window.api('POST', '/api/v1/invitations', { services, ...(batch > 1 && { mode: 'batch' }) });
    if (invited.status !== 201) continue;
    const id = invitationIdOf(invited);
    if (random() < citizens.rateShare) {
      await sleep(between(random, ...citizens.thinkMs), signal);
      if (!signal.aborted) await window.terminal.press(weightedIndex(random, citizens.gradeWeights));
    }
    await untilClosed(window, id, signal);
    if (random() < citizens.strayShare && !signal.aborted) await window.terminal.press(Math.floor(random() * BUTTON_COUNT));
  }
}

async function untilClosed(window: SimWindow, id: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || window.bridge.desk.current()?.id !== id) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      window.bridge.desk.off('closed', onClosed);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const onClosed = (record: { id: string }): void => {
      if (record.id === id) done();
    };
    window.bridge.desk.on('closed', onClosed);
    signal.addEventListener('abort', done, { once: true });
  });
}
