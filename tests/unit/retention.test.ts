import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../bridge/config.js';
import { Retention } from '../../bridge/features/retention.js';
import { silentLogger } from '../../bridge/log.js';
import { Commits } from '../../bridge/store/commits.js';
import { openDatabase } from '../../bridge/store/database.js';
import { Outbox } from '../../bridge/store/outbox.js';
import { TimeKeeper } from '../../bridge/time/time-keeper.js';
import { manualWall } from '../support/manual-clock.js';
import { ManualTimers } from '../support/manual-timers.js';

const config = parseConfig({
  terminal: { id: 'T-1', areaCode: '330106', hallCode: 'H-1', windowNo: '07' },
  serial: { path: '/dev/ttyUSB0' },
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  database: { path: '/var/lib/hcp/hcp.db' },
});

describe('retention feature', () => {
  it('a database that refuses even a delete is a storage fault, not a crash from its timer; pruning resumes when it can write', () => {
    const timers = new ManualTimers();
    const db = openDatabase(':memory:');
    const clock = new TimeKeeper(manualWall(timers), 'boot-1', 'system');
    const commits = new Commits(db, clock, silentLogger);
    const retention = new Retention({ outbox: new Outbox(db, clock, commits), clock, timers, config, logger: silentLogger });
    db.pragma('query_only = ON');
    expect(() => retention.start()).not.toThrow();
    expect(commits.fault?.code).toMatch(/^SQLITE_READONLY/);
    db.pragma('query_only = OFF');
    expect(() => timers.advance(60 * 60 * 1000)).not.toThrow();
    expect(commits.fault).toBeNull();
    retention.stop();
  });
});
