import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import type { CommandContext } from '../../bridge/commands/command.js';
import { route } from '../../bridge/commands/index.js';
import { DeskError } from '../../bridge/desk/invitation-desk.js';
import { silentLogger } from '../../bridge/log.js';
import type { SelftestReport } from '../../bridge/selftest/selftest.js';
import type { BridgeStatus } from '../../bridge/status/status.js';
import { commandSchema } from '../../protocol/commands.js';
import { explain } from '../../protocol/issues.js';
import type { StaffActionEntry } from '../../protocol/staff-actions.js';

const REPORT: SelftestReport = { passed: true, startedAt: '2026-03-02T01:00:00.000Z', steps: [], recordId: 'rec-1' };

/** The parts a command acts on, each a plain function the test can watch. */
function context(overrides: Partial<CommandContext> = {}) {
  const restarts: string[] = [];
  const audited: StaffActionEntry[] = [];
  const ctx: CommandContext = {
    status: () => ({ terminal: { id: 'T-1' } }) as BridgeStatus,
    outbox: { requeueRange: vi.fn(() => 2) },
    reprint: (invitationId) => ({ receiptId: `receipt-of-${invitationId}` }),
    selftest: async () => REPORT,
    configFile: undefined,
    restartAfterAnswer: (why) => void restarts.push(why),
    staffAction: (entry) => void audited.push(entry),
    logger: silentLogger,
    ...overrides,
  };
  return { ctx, restarts, audited };
}

describe('remote commands: route()', () => {
  it('answers each command with its result and its id', async () => {
    const { ctx } = context();
    expect(await route({ id: 'c1', command: 'status' }, ctx)).toEqual({ id: 'c1', ok: true, result: { terminal: { id: 'T-1' } } });
    expect(await route({ id: 'c2', command: 'reprint', invitationId: 'inv-1' }, ctx)).toEqual({ id: 'c2', ok: true, result: { receiptId: 'receipt-of-inv-1' } });
    expect(await route({ id: 'c3', command: 'resend', fromSeq: 3, toSeq: 4 }, ctx)).toEqual({ id: 'c3', ok: true, result: { requeued: 2 } });
    expect(ctx.outbox.requeueRange).toHaveBeenCalledWith(3, 4);
    expect(await route({ id: 'c4', command: 'selftest' }, ctx)).toEqual({ id: 'c4', ok: true, result: REPORT });
  });

  it('a remote reprint is audited as `reprint` by the province (the bridge\'s reprint announces it for the actor it is given)', async () => {
    const reprints: [string, string][] = [];
    const { ctx, audited } = context({
      reprint: (invitationId, actor) => {
        reprints.push([invitationId, actor]);
        ctx.staffAction({ action: 'reprint', actor, detail: { invitationId, receiptId: 'rc-7' } });
        return { receiptId: 'rc-7' };
      },
    });
    expect(await route({ id: 'p1', command: 'reprint', invitationId: 'inv-7' }, ctx)).toEqual({ id: 'p1', ok: true, result: { receiptId: 'rc-7' } });
    expect(reprints).toEqual([['inv-7', 'province']]);
    expect(audited).toEqual([
      { action: 'reprint', actor: 'province', detail: { invitationId: 'inv-7', receiptId: 'rc-7' } },
      { action: 'remote_command', actor: 'province', detail: { command: 'reprint', id: 'p1', ok: true } },
    ]);
  });

  it('audits every command by its name and how it went, carried out, refused or invalid (the actor: the province)', async () => {
    const { ctx, audited } = context({ reprint: () => {
      throw new DeskError(409, 'no_printer', 'no printer');
    } });
    await route({ id: 'a1', command: 'status' }, ctx);
    await route({ id: 'a2', command: 'reprint', invitationId: 'x' }, ctx);
    await route({ invalid: 'command: expected one of …', id: 'a3' }, ctx);
    expect(audited).toEqual([
      { action: 'remote_command', actor: 'province', detail: { command: 'status', id: 'a1', ok: true } },
      { action: 'remote_command', actor: 'province', detail: { command: 'reprint', id: 'a2', ok: false } },
      { action: 'remote_command', actor: 'province', detail: { command: null, id: 'a3', ok: false } },
    ]);
  });

  it('a command that failed validation is answered with what was wrong', async () => {
    expect(await route({ invalid: 'command: expected one of …', id: 'x1' }, context().ctx)).toEqual({ id: 'x1', ok: false, error: 'invalid command: command: expected one of …' });
  });

  it('a refusal leaves by the one error exit, and changes nothing', async () => {
    const { ctx } = context({
      reprint: () => {
        throw new DeskError(409, 'no_printer', 'this terminal has no receipt printer configured');
      },
    });
    expect(await route({ id: 'r1', command: 'resend', fromSeq: 5, toSeq: 2 }, ctx)).toEqual({ id: 'r1', ok: false, error: 'toSeq: must not be below fromSeq' });
    expect(ctx.outbox.requeueRange).not.toHaveBeenCalled();
    expect(await route({ id: 'r2', command: 'reprint', invitationId: 'x' }, ctx)).toEqual({ id: 'r2', ok: false, error: 'this terminal has no receipt printer configured' });
  });

  it('a failed self-test is not ok, and carries its report', async () => {
    const failed = { ...REPORT, passed: false };
    expect(await route({ id: 's1', command: 'selftest' }, context({ selftest: async () => failed }).ctx)).toEqual({
      id: 's1',
      ok: false,
      error: 'self-test failed: see result.steps',
      result: failed,
    });
  });

  it('update-config: edits the file and restarts after the answer; refuses without a file, or a change that makes the config invalid', async () => {
    expect(await route({ id: 'u0', command: 'update-config', changes: { log: { level: 'debug' } } }, context().ctx)).toEqual({
      id: 'u0',
      ok: false,
      error: 'this bridge runs without a config file: nothing to update',
    });
    const file = join(mkdtempSync(join(tmpdir(), 'hcp-cmd-')), 'bridge.yaml');
    writeFileSync(
      file,
      stringify({
        terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
        serial: { path: '/dev/ttyUSB0' },
        mqtt: { url: 'mqtt://localhost:1883' },
        database: { path: '/tmp/hcp.db' },
      }),
    );
    const { ctx, restarts, audited } = context({ configFile: file });
    expect(await route({ id: 'u1', command: 'update-config', changes: { log: { level: 'debug' } } }, ctx)).toMatchObject({ id: 'u1', ok: true, result: { restarting: true } });
    expect(readFileSync(file, 'utf8')).toContain('level: debug');
    expect(restarts).toEqual(['config updated by command u1']);
    // The config change is audited by its keys, never their values.
    expect(audited.filter((e) => e.action === 'config_change')).toEqual([{ action: 'config_change', actor: 'province', detail: { command: 'u1', keys: 'log.level' } }]);
    // The config's own check refuses it; its problems come on one line.
    const bad = await route({ id: 'u2', command: 'update-config', changes: { invitation: { timeoutSeconds: 601 } } }, ctx);
    expect(bad).toEqual({ id: 'u2', ok: false, error: expect.stringMatching(/invitation\.timeoutSeconds/) });
    expect(bad.error).not.toContain('\n');
    expect(readFileSync(file, 'utf8')).not.toContain('601');
    expect(restarts).toHaveLength(1);
  });

  it('update-config cannot make the log hide warnings and errors: silent, fatal and error are refused, the file untouched', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hcp-cmd-')), 'bridge.yaml');
    const text = stringify({
      terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
      serial: { path: '/dev/ttyUSB0' },
      mqtt: { url: 'mqtt://localhost:1883' },
      database: { path: '/tmp/hcp.db' },
    });
    writeFileSync(file, text);
    const { ctx, restarts } = context({ configFile: file });
    for (const level of ['silent', 'fatal', 'error']) {
      // As the uplink takes a command off …/cmd: parsed by the command schema, an invalid one answered as such.
      const parsed = explain(commandSchema, { id: `l-${level}`, command: 'update-config', changes: { log: { level } } });
      expect(parsed.ok).toBe(false);
      const refused = await route(parsed.ok ? parsed.data : { invalid: parsed.problems.join('; '), id: `l-${level}` }, ctx);
      expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(/changes\.log\.level: expected warn, info, debug, trace: a level that hides warnings and errors is set on site only/) });
    }
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(restarts).toEqual([]);
    const warn = explain(commandSchema, { id: 'l-warn', command: 'update-config', changes: { log: { level: 'warn' } } });
    expect(warn.ok && (await route(warn.data, ctx))).toMatchObject({ ok: true });
  });
});
