import { describe, expect, it } from 'vitest';
import { raisesBadReview } from '../../gateway/alerts/schema.js';
import { GRADES } from '../../protocol/grades.js';
import type { InvitationRecord } from '../../protocol/records.js';
import { databasePerTest, gatewayDatabaseEngines } from '../support/db-engines.js';
import { alertRows, storeRating } from './alerts-fixture.js';

/*
 * The gateway kicks the alert notifier after a stored batch only when one of its records raised a
 * bad review (a claim query after every batch would cost one statement per batch at full ingest
 * rate): raisesBadReview must say exactly what the trigger raise_record_bad_reviews does.
 */

const { engines } = gatewayDatabaseEngines({ anotherPoolSize: 2 });

describe.each(engines)('the notifier kick on $name', (engine) => {
  const database = databasePerTest(engine);

  it('raisesBadReview is true for exactly the records whose storing raised a bad review', async () => {
    const db = database();
    const stored: InvitationRecord[] = [];
    for (const test of [false, true]) {
      for (const grade of GRADES) stored.push(await storeRating(db, grade, { test }));
      stored.push(await storeRating(db, null, { test }));
      stored.push(await storeRating(db, null, { test, outcome: 'cancelled', cancelReason: 'citizen_left' }));
    }
    const raised = new Set((await alertRows(db)).filter((a) => a.kind === 'bad_review').map((a) => a.subject));
    expect(stored.map((r) => raisesBadReview(r))).toEqual(stored.map((r) => raised.has(`record:${r.id}`)));
    // 不满意 and 非常不满意, not tests: two.
    expect(stored.filter((r) => raisesBadReview(r)).map((r) => r.rating?.grade)).toEqual(['dissatisfied', 'very_dissatisfied']);
  });
});
