import { describe, expect, it } from 'vitest';
import { alarms, type AlarmFacts } from '../../bridge/status/alarms.js';
import { ALARM_CODES } from '../../protocol/alarms.js';

const HEALTHY: AlarmFacts = { terminalAlive: true, terminalReplaced: false, brokerConnected: true, clockSynced: true, storageFull: false, storageFault: null, quarantined: 0, printer: 'ready', soundFault: false };

describe('alarms', () => {
  it.each<[string, Partial<AlarmFacts>, string[]]>([
    ['a healthy window', {}, []],
    ['no printer at all', { printer: null }, []],
    ['a printer that cannot tell its state (USB class)', { printer: 'unknown' }, []],
    ['the terminal silent', { terminalAlive: false }, ['terminal_offline']],
    ['another device on the terminal line', { terminalAlive: false, terminalReplaced: true }, ['terminal_offline', 'terminal_replaced']],
    ['the broker away', { brokerConnected: false }, ['broker_offline']],
    ['the clock not yet trusted', { clockSynced: false }, ['clock_unsynced']],
    ['the database at its cap', { storageFull: true }, ['storage_full']],
    ['the disk full below the cap', { storageFault: 'SQLITE_FULL' }, ['storage_full']],
    ['the disk failing to write', { storageFault: 'SQLITE_IOERR_WRITE' }, ['storage_error']],
    ['records the province rejected', { quarantined: 2 }, ['records_quarantined']],
    ['the printer not answering', { printer: 'offline' }, ['printer_offline']],
    ['the printer unplugged', { printer: 'disconnected' }, ['printer_offline']],
    ['paper out', { printer: 'paper_out' }, ['printer_paper_out']],
    ['paper low', { printer: 'paper_low' }, ['printer_paper_low']],
    ['the cover open', { printer: 'cover_open' }, ['printer_cover_open']],
    [
      'everything at once, in the order of protocol/alarms.ts',
      { printer: 'paper_out', quarantined: 1, storageFull: true, clockSynced: false, brokerConnected: false, terminalAlive: false },
      ['terminal_offline', 'broker_offline', 'clock_unsynced', 'storage_full', 'records_quarantined', 'printer_paper_out'],
    ],
  ])('%s', (_case, facts, expected) => {
    expect(alarms({ ...HEALTHY, ...facts })).toEqual(expected);
  });

  it('every alarm code can be raised', () => {
    const raised = new Set(
      (['offline', 'paper_out', 'paper_low', 'cover_open'] as const).flatMap((printer) =>
        alarms({ terminalAlive: false, terminalReplaced: true, brokerConnected: false, clockSynced: false, storageFull: true, storageFault: 'SQLITE_IOERR', quarantined: 1, printer, soundFault: true }),
      ),
    );
    expect([...raised].sort()).toEqual([...ALARM_CODES].sort());
  });
});
