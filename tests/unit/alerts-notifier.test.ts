import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AlertChannel } from '../../gateway/alerts/channels/channel.js';
import { AlertNotifier } from '../../gateway/alerts/notifier.js';
import type { Database } from '../../gateway/db/database.js';
import { waitUntil } from '../../simulator/wait.js';
import { ManualTimers } from '../support/manual-timers.js';

/** The notifier's own rules with a scripted database: failures back off and are counted, a channel that throws is a failed send, nothing crashes. */

const START = Date.parse('2026-11-30T02:20:00Z');

const claimRow = {
  id: '7',
  kind: 'bad_review',
  terminal_id: 'T-1',
  area_code: '370102',
  hall_code: 'hall-lixia',
  window_no: '7',
  detail: { grade: 'dissatisfied', reasons: ['R01'] },
  occurred_at: new Date(START),
  notify_count: 0,
  notify_owed: null,
  notify_attempts: 0,
};

/** A database that answers each statement by its first words, and records them. */
function scriptedDb(answer: (sql: string, params: readonly unknown[]) => { rows: Record<string, unknown>[] }): Database & { statements: string[] } {
  const statements: string[] = [];
  return {
    kind: 'pglite',
    statements,
    query: async (text: string, params: readonly unknown[] = []) => {
      statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
      return answer(text, params) as never;
    },
    exec: async () => undefined,
    transaction: async () => {
      throw new Error('not used');
    },
    close: async () => undefined,
  };
}

describe('AlertNotifier with a scripted database', () => {
  it('a database failure is counted and backed off, then it carries on', async () => {
    const timers = new ManualTimers();
    let failing = 2;
    const db = scriptedDb((sql) => {
      if (sql.includes('WITH due') && failing > 0) {
        failing -= 1;
        throw new Error('connection terminated');
      }
      return { rows: [] };
    });
    const n = new AlertNotifier({ db, channels: [{ kind: 'webhook', name: 'h', send: async () => ({ ok: true }) }], instance: 'gw', clock: { now: () => new Date(START + timers.now()) }, timers, logger: pino({ level: 'silent' }), repeatMinutes: 15, maxRepeats: 1, timeZone: 'UTC' });
    await n.start();
    await waitUntil(() => n.status().dbFailures === 1, 'the first failure');
    expect(n.status().lastError?.message).toMatch(/^claiming due alerts: .*connection terminated$/);
    timers.advance(999);
    expect(n.status().dbFailures).toBe(1);
    timers.advance(1);
    await waitUntil(() => n.status().dbFailures === 2, 'the second failure');
    // The pause doubles: 2 s.
    timers.advance(2000);
    await waitUntil(() => n.status().looks === 1, 'a look that works');
    await n.stop();
    expect(n.status().running).toBe(false);
  });

  it('a channel that throws is a failed send, recorded for that channel alone', async () => {
    const timers = new ManualTimers();
    const updates: unknown[][] = [];
    let claimed = false;
    const db = scriptedDb((sql, params) => {
      if (sql.includes('WITH due')) {
        if (claimed) return { rows: [] };
        claimed = true;
        return { rows: [claimRow] };
      }
      if (sql.startsWith('UPDATE alerts SET notify_owed')) updates.push([...params]);
      return { rows: [{ one: 1 }] };
    });
    const good: AlertChannel = { kind: 'wecom', name: 'good', send: async () => ({ ok: true }) };
    const broken: AlertChannel = {
      kind: 'webhook',
      name: 'broken',
      send: async () => {
        throw new Error('boom at https://ops.example/hook?token=SECRET');
      },
    };
    const n = new AlertNotifier({ db, channels: [good, broken], instance: 'gw', clock: { now: () => new Date(START + timers.now()) }, timers, logger: pino({ level: 'silent' }), repeatMinutes: 15, maxRepeats: 1, timeZone: 'UTC' });
    await n.start();
    await waitUntil(() => updates.length === 1, 'the failure recorded');
    expect(updates[0]?.[3]).toEqual(['broken']);
    expect(String(updates[0]?.[4])).toMatch(/^broken: /);
    expect(String(updates[0]?.[4])).not.toContain('SECRET');
    expect(n.status().channels).toEqual([
      { name: 'good', kind: 'wecom', sent: 1, failed: 0, lastError: null },
      { name: 'broken', kind: 'webhook', sent: 0, failed: 1, lastError: expect.objectContaining({ message: expect.not.stringContaining('SECRET') }) },
    ]);
    await n.stop();
  });

  it('without channels it does not run', async () => {
    const db = scriptedDb(() => ({ rows: [] }));
    const n = new AlertNotifier({ db, channels: [], instance: 'gw', clock: { now: () => new Date(START) }, timers: new ManualTimers(), logger: pino({ level: 'silent' }), repeatMinutes: 15, maxRepeats: 1, timeZone: 'UTC' });
    await n.start();
    n.kick();
    expect(db.statements).toEqual([]);
    expect(n.status().running).toBe(false);
    await n.stop();
  });
});
