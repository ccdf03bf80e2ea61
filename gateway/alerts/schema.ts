import { GRADE_INFO } from '../../protocol/grades.js';
import type { UpstreamRecord } from '../../protocol/records.js';

/**
 * Alerts (bad reviews, fleet faults) and the bad reviews' follow-up: part of schema version 3
 * (gateway/db/schema.ts). Released with it: never edited after, a change is a new version.
 */
export const ALERTS_SQL = `
-- What a duty manager must hear about: a bad review (不满意 / 非常不满意, from a terminal or the
-- rate-later page) or a fleet fault (a terminal offline, a backlog too old, a clock unsynced, paper
-- out). One open alert per (kind, subject), whichever instance raises it; sent to the configured
-- channels at notify_due_at, again until acknowledged; a fault's alert is cleared when it ends.
CREATE TABLE alerts (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('bad_review', 'terminal_offline', 'backlog_old', 'clock_unsynced', 'paper_out')),
  -- What it is about: 'record:<id>' or 'later:<id>' for a bad review, the terminal id for a fault.
  subject         text NOT NULL,
  terminal_id     text,
  area_code       text NOT NULL,
  hall_code       text NOT NULL,
  window_no       text,
  -- What the message says (no personal data: no case number, no name): grade, reasons, channel, figures of the fault.
  detail          jsonb NOT NULL DEFAULT '{}',
  -- When it happened (the rating's press, the fault's start): the follow-up clocks start here.
  occurred_at     timestamptz NOT NULL,
  raised_at       timestamptz NOT NULL,
  cleared_at      timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text,
  -- When it is next to be sent; NULL: nothing more to send (acknowledged, cleared, or repeats used up).
  notify_due_at   timestamptz,
  notify_count    integer NOT NULL DEFAULT 0,
  notified_at     timestamptz,
  notify_error    text,
  -- The channels (by name) still owed the current send after some failed; NULL: every channel (a new send).
  notify_owed     text[],
  -- Failed tries of the current send (its retries back off with them).
  notify_attempts integer NOT NULL DEFAULT 0,
  -- The instance sending it, and since when (a lease: another instance takes over after it).
  claimed_by      text,
  claimed_at      timestamptz,
  -- A bad review's follow-up as the hall records it (null for faults); its history in follow_up_events.
  follow_up       text CHECK (follow_up IN ('open', 'called_back', 'appealed', 'rectifying', 'rectified', 'closed'))
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_due ON alerts (notify_due_at) WHERE notify_due_at IS NOT NULL;
CREATE INDEX alerts_by_place ON alerts (area_code, hall_code, raised_at);

-- What the hall did about a bad review, and who: append-only.
CREATE TABLE follow_up_events (
  alert_id bigint NOT NULL REFERENCES alerts (id),
  at       timestamptz NOT NULL,
  actor    text NOT NULL,
  status   text NOT NULL,
  note     text NOT NULL DEFAULT ''
);
CREATE INDEX follow_up_events_by_alert ON follow_up_events (alert_id, at);
CREATE FUNCTION follow_up_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'follow_up_events is append-only';
END $$;
CREATE TRIGGER follow_up_events_no_update BEFORE UPDATE OR DELETE ON follow_up_events
  FOR EACH ROW EXECUTE FUNCTION follow_up_events_append_only();

-- A bad review raises its alert in the transaction that stores it: no instance can miss it, none
-- can raise it twice. Tests never count, and raise nothing.
CREATE FUNCTION raise_record_bad_reviews() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alerts (kind, subject, terminal_id, area_code, hall_code, window_no, detail, occurred_at, raised_at, notify_due_at, follow_up)
  SELECT 'bad_review', 'record:' || n.id, n.terminal_id, n.area_code, n.hall_code, n.window_no,
         jsonb_build_object('grade', n.grade, 'reasons', COALESCE(n.record->'rating'->'reasons', '[]'::jsonb), 'channel', n.channel, 'flags', n.record->'flags'),
         COALESCE((n.record->'rating'->>'pressedAt')::timestamptz, n.closed_at, n.occurred_at), n.received_at, n.received_at, 'open'
    FROM inserted n
   WHERE n.kind = 'invitation' AND n.outcome = 'rated' AND NOT n.test AND n.grade IN ('dissatisfied', 'very_dissatisfied')
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER records_raise_bad_reviews AFTER INSERT ON records REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION raise_record_bad_reviews();

CREATE FUNCTION raise_later_bad_reviews() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO alerts (kind, subject, terminal_id, area_code, hall_code, window_no, detail, occurred_at, raised_at, notify_due_at, follow_up)
  SELECT 'bad_review', 'later:' || n.id, n.terminal_id, COALESCE(r.area_code, t.area_code), COALESCE(r.hall_code, t.hall_code), COALESCE(r.window_no, t.window_no),
         jsonb_build_object('grade', n.grade, 'reasons', n.reasons, 'channel', 'receipt_qr', 'via', n.via, 'assessNumber', n.assess_number),
         n.rated_at, n.rated_at, n.rated_at, 'open'
    FROM inserted n
    JOIN terminals t ON t.terminal_id = n.terminal_id
    -- The place of the invitation's own record first: a terminal approved on its first key has none in terminals.
    LEFT JOIN records r ON r.id = CASE WHEN n.invitation_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN n.invitation_id::uuid END
   WHERE n.grade IN ('dissatisfied', 'very_dissatisfied') AND COALESCE(r.area_code, t.area_code) IS NOT NULL AND COALESCE(r.hall_code, t.hall_code) IS NOT NULL
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER later_ratings_raise_bad_reviews AFTER INSERT ON later_ratings REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION raise_later_bad_reviews();
`;

/** Whether storing `record` raises a bad review (raise_record_bad_reviews above says the same in SQL): the notifier is kicked only then. */
export function raisesBadReview(record: UpstreamRecord): boolean {
  return record.kind === 'invitation' && record.outcome === 'rated' && !record.test && record.rating !== undefined && GRADE_INFO[record.rating.grade].class === 'bad';
}
