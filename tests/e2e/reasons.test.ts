import { describe, expect, it } from 'vitest';
import type { ProvinceConfig } from '../../protocol/province-config.js';
import { SAMPLE_PROVINCE_CONFIG } from '../../simulator/province.js';
import { waitUntil } from '../../simulator/wait.js';
import { BROKERS } from '../support/brokers.js';
import { useHall } from '../support/hall-fixture.js';

/** 差评 must carry a reason: offered on the same five buttons, from the province's catalogue. */
const halls = useHall(BROKERS[0]!);

/** The catalogue a province sends: three reasons, version 2026.11. */
const CATALOG = SAMPLE_PROVINCE_CONFIG;

describe('bad-review reasons', () => {
  it('after 不满意 the terminal offers the catalogue reasons; the choice and the catalogue version go in the record', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    await hall.province.publishConfig(w.terminalId, CATALOG);
    await waitUntil(() => w.bridge.status().reasonCatalog?.version === '2026.11', 'the catalogue to arrive');
    const id = await hall.serve(w, 'C-REASON-1', 3);
    await waitUntil(() => w.terminal.core.state === 'reason', 'the reason step');
    expect(w.terminal.leds()).toEqual([true, true, true, false, false]); // three reasons on the first three buttons
    await w.terminal.press(4); // not a reason: nothing
    await w.terminal.press(1);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ outcome: 'rated', flags: [], rating: { grade: 'dissatisfied', reasons: ['R02'], reasonCatalogVersion: '2026.11' } });
  });

  it('no reason chosen in time: the bad grade stands, flagged no_reason', async () => {
    const hall = await halls.start();
    const w = await hall.window({ config: { invitation: { reasonTimeoutSeconds: 1 } } });
    await hall.province.publishConfig(w.terminalId, CATALOG);
    await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the catalogue to arrive');
    const id = await hall.serve(w, 'C-REASON-2', 4);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ flags: ['no_reason'], rating: { grade: 'very_dissatisfied', reasons: [], reasonCatalogVersion: '2026.11' } });
  });

  it('a good grade has no reason step; an invalid config is refused and changes nothing', async () => {
    const hall = await halls.start();
    const w = await hall.window();
    await hall.province.publishConfig(w.terminalId, CATALOG);
    await waitUntil(() => w.bridge.status().reasonCatalog !== null, 'the catalogue to arrive');
    await hall.province.publishConfig(w.terminalId, { reasonCatalog: { version: 'bad', reasons: [] } } as unknown as ProvinceConfig);
    await waitUntil(() => w.bridge.status().broker.invalidConfigs === 1, 'the bad config to be counted');
    expect(w.bridge.status().reasonCatalog).toEqual({ version: '2026.11', reasons: 3 });
    const id = await hall.serve(w, 'C-REASON-3', 0);
    const [record] = await hall.expectExactlyOnce(w, [id]);
    expect(record).toMatchObject({ flags: [], rating: { grade: 'very_satisfied', reasons: [] } });
  });
});
