/**
 * What the live view's change watch (changes.ts) needs of the database: part of schema version 3
 * (gateway/db/schema.ts). Released with it: never edited after, a change is a new version.
 */
export const LIVE_SQL = `
-- The change watch reads the newest stamp of records and later ratings, and counts those of the
-- last seconds, every second on every instance: by these indexes a few milliseconds, where a scan
-- of 300,000 records took 400 ms (PostgreSQL, same machine).
CREATE INDEX records_by_received ON records (received_at);
CREATE INDEX later_ratings_by_rated ON later_ratings (rated_at);
`;
