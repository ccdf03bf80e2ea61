import { ACCOUNTS_SQL } from '../accounts/schema.js';
import { ALERTS_SQL } from '../alerts/schema.js';
import { LIVE_SQL } from '../live/schema.js';

/**
 * The gateway's schema, one migration per version, applied in order at start (db/migrate.ts)
 * and never edited once released: a change is a new version. The same SQL runs on PGlite and
 * on PostgreSQL 15+.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'terminals, records, chain links, refusals, operator actions, instances',
    sql: `
-- Every terminal that has spoken to the gateway. Its key verifies its records; only an operator
-- (hcp gateway terminals approve, or the roster file) makes a key the approved one.
CREATE TABLE terminals (
  terminal_id          text PRIMARY KEY,
  status               text NOT NULL CHECK (status IN ('pending', 'approved', 'revoked')),
  public_key           text,
  pending_key          text,
  pending_registration jsonb,
  area_code            text,
  hall_code            text,
  window_no            text,
  bridge_version       text,
  first_seen           timestamptz NOT NULL,
  last_seen            timestamptz NOT NULL,
  online               boolean,
  state                jsonb,
  state_at             timestamptz,
  telemetry            jsonb,
  telemetry_at         timestamptz,
  decided_at           timestamptz,
  decided_by           text
);

-- Every accepted record, once: the primary key on the record id is what makes "exactly once"
-- hold across any number of gateway instances.
CREATE TABLE records (
  id            uuid PRIMARY KEY,
  terminal_id   text NOT NULL REFERENCES terminals (terminal_id),
  seq           integer NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('invitation', 'event')),
  schema        smallint NOT NULL,
  seal          text NOT NULL CHECK (seal IN ('ok', 'gap', 'unsigned')),
  test          boolean NOT NULL,
  area_code     text NOT NULL,
  hall_code     text NOT NULL,
  window_no     text NOT NULL,
  staff_id      text,
  outcome       text CHECK (outcome IN ('rated', 'not_rated', 'cancelled')),
  grade         text,
  channel       text,
  event_type    text,
  occurred_at   timestamptz NOT NULL,
  closed_at     timestamptz,
  supersedes    uuid,
  superseded_by uuid,
  record        jsonb NOT NULL,
  payload       text NOT NULL,
  received_at   timestamptz NOT NULL,
  instance      text NOT NULL
);
CREATE INDEX records_by_terminal_seq ON records (terminal_id, seq);
CREATE INDEX records_by_hall_time ON records (area_code, hall_code, occurred_at);
CREATE INDEX records_by_supersedes ON records (supersedes) WHERE supersedes IS NOT NULL;

-- Each terminal key's chain of sealed records: (seq, hash, prev), what verifySealed needs of
-- its neighbours. Keyed by the key too: a replaced terminal (a new key, approved) starts a new chain.
CREATE TABLE chain_links (
  terminal_id text NOT NULL,
  public_key  text NOT NULL,
  seq         integer NOT NULL,
  hash        text NOT NULL,
  prev        text NOT NULL,
  record_id   uuid NOT NULL,
  PRIMARY KEY (terminal_id, public_key, seq)
);

-- Records not accepted, kept and visible: refused (acked "rejected": the bridge quarantines
-- them) or held (not acked: the bridge publishes them again until the operator decides).
CREATE TABLE refusals (
  id          text NOT NULL,
  terminal_id text NOT NULL,
  disposition text NOT NULL CHECK (disposition IN ('rejected', 'held')),
  verdict     text NOT NULL,
  reason      text NOT NULL,
  payload     text NOT NULL,
  first_at    timestamptz NOT NULL,
  last_at     timestamptz NOT NULL,
  attempts    integer NOT NULL DEFAULT 1,
  resolved_at timestamptz,
  PRIMARY KEY (terminal_id, id, verdict)
);

-- What operators did to the registry: append-only.
CREATE TABLE operator_actions (
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  action      text NOT NULL,
  terminal_id text,
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE FUNCTION operator_actions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'operator_actions is append-only';
END $$;
CREATE TRIGGER operator_actions_no_update BEFORE UPDATE OR DELETE ON operator_actions
  FOR EACH ROW EXECUTE FUNCTION operator_actions_append_only();

-- Each running gateway instance's heartbeat and figures, for hcp gateway status.
CREATE TABLE instances (
  instance   text PRIMARY KEY,
  started_at timestamptz NOT NULL,
  beat_at    timestamptz NOT NULL,
  stats      jsonb NOT NULL DEFAULT '{}'
);
`,
  },
  {
    version: 2,
    name: 'deliveries to the provincial interface, ratings made later on the receipt page',
    sql: `
-- Ratings a citizen made later on the gateway's own page, from a receipt's QR code (channel
-- receipt_qr). Not a terminal's record: the receipt's signature (by the terminal's key) is what
-- ties it to the invitation. One rating per case and assessNumber (2: a follow-up, 追评).
CREATE TABLE later_ratings (
  id                uuid PRIMARY KEY,
  terminal_id       text NOT NULL REFERENCES terminals (terminal_id),
  invitation_id     text NOT NULL,
  case_no           text NOT NULL,
  assess_number     smallint NOT NULL CHECK (assess_number IN (1, 2)),
  grade             text NOT NULL,
  reasons           jsonb NOT NULL DEFAULT '[]',
  reason_catalog    text,
  receipt_issued_at timestamptz NOT NULL,
  rated_at          timestamptz NOT NULL,
  instance          text NOT NULL,
  -- Where the citizen came from: the receipt's signed QR code, or the window's static QR sign
  -- (no proof of who scanned it: the dashboard flags and filters these; receipt_issued_at is then
  -- the invitation's close, there being no receipt).
  via               text NOT NULL DEFAULT 'receipt' CHECK (via IN ('receipt', 'window_sign')),
  UNIQUE (case_no, assess_number)
);
CREATE INDEX later_ratings_by_invitation ON later_ratings (invitation_id);

-- What the provincial interface has of each case: one row per (record, case), for a terminal's
-- invitation record (source 'record', id = records.id) or a later rating (source 'later', id =
-- later_ratings.id). The service goes first, then the evaluation; 'delivered' when the province
-- has both (or the service alone, for a case not rated or cancelled); 'rejected' keeps the
-- province's answer and waits for an operator; never retried blindly; 'skipped': not to be sent
-- (superseded, or a test). Rows are made by the triggers below, in the transaction that stores the
-- record or the later rating; gateway/delivery/ claims and sends them.
CREATE TABLE deliveries (
  source         text NOT NULL CHECK (source IN ('record', 'later')),
  id             uuid NOT NULL,
  case_no        text NOT NULL,
  terminal_id    text NOT NULL,
  state          text NOT NULL CHECK (state IN ('service', 'evaluation', 'delivered', 'rejected', 'skipped')),
  -- Order of arrival: a case's rows are sent one after another in this order.
  position       bigint GENERATED ALWAYS AS IDENTITY,
  -- Transient failures in a row of the current phase.
  attempts       integer NOT NULL DEFAULT 0,
  -- When it may be claimed: while claimed, the end of the claim's lease.
  due_at         timestamptz NOT NULL,
  -- The instance that claimed it last, and when (claimed_at is cleared when its claim ends).
  claimed_by     text,
  claimed_at     timestamptz,
  -- For 'rejected': the phase the province refused, what a retry resumes at.
  rejected_phase text CHECK (rejected_phase IN ('service', 'evaluation')),
  -- The province's code and message of the last answer that was not a success.
  code           text,
  last_error     text,
  answer         jsonb,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  delivered_at   timestamptz,
  PRIMARY KEY (source, id, case_no)
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE state IN ('service', 'evaluation');
CREATE INDEX deliveries_by_case ON deliveries (case_no, position);
CREATE INDEX deliveries_rejected ON deliveries (updated_at) WHERE state = 'rejected';

-- A stored record's rows: one per case of an invitation that is not a test. One function for the
-- trigger and the backfill below.
CREATE FUNCTION record_deliveries(r records) RETURNS TABLE (source text, id uuid, case_no text, terminal_id text, due_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT 'record', r.id, s.service->>'caseNo', r.terminal_id, r.received_at
    FROM jsonb_array_elements(CASE WHEN r.kind = 'invitation' AND NOT r.test AND jsonb_typeof(r.record->'services') = 'array'
                                   THEN r.record->'services' ELSE '[]'::jsonb END) AS s(service)
   WHERE jsonb_typeof(s.service->'caseNo') = 'string'
$$;
CREATE FUNCTION queue_record_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deliveries (source, id, case_no, terminal_id, state, due_at, created_at, updated_at)
  SELECT q.source, q.id, q.case_no, q.terminal_id, 'service', q.due_at, q.due_at, q.due_at
    FROM inserted n CROSS JOIN LATERAL record_deliveries(n) q
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
-- Statement level: one INSERT per batch of records (ingest stores a batch in one statement).
CREATE TRIGGER records_queue_deliveries AFTER INSERT ON records REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION queue_record_deliveries();

-- A record another took the place of (protocol/supersede.ts): what it has not yet delivered is not
-- sent (its successor's rows carry the case). A push in flight finds its row changed and lets it be.
CREATE FUNCTION skip_superseded_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE deliveries SET state = 'skipped', last_error = 'superseded by record ' || NEW.superseded_by, claimed_at = NULL, updated_at = now()
   WHERE source = 'record' AND id = NEW.id AND state IN ('service', 'evaluation', 'rejected');
  RETURN NULL;
END $$;
CREATE TRIGGER records_skip_superseded AFTER UPDATE OF superseded_by ON records
  FOR EACH ROW WHEN (NEW.superseded_by IS NOT NULL) EXECUTE FUNCTION skip_superseded_deliveries();

-- A later rating's row (one case each). It starts at the service: the worker sends the service
-- only if no record of the case has reached the province (gateway/delivery/claims.ts).
CREATE FUNCTION queue_later_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deliveries (source, id, case_no, terminal_id, state, due_at, created_at, updated_at)
  SELECT 'later', n.id, n.case_no, n.terminal_id, 'service', n.rated_at, n.rated_at, n.rated_at FROM inserted n
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER later_ratings_queue_deliveries AFTER INSERT ON later_ratings REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION queue_later_deliveries();

-- Records stored before this version: queued like the new ones (an operator holds them back with
-- province.deliver: false).
INSERT INTO deliveries (source, id, case_no, terminal_id, state, due_at, created_at, updated_at)
SELECT q.source, q.id, q.case_no, q.terminal_id, 'service', q.due_at, q.due_at, q.due_at
  FROM records r CROSS JOIN LATERAL record_deliveries(r) q
 WHERE r.superseded_by IS NULL
ON CONFLICT DO NOTHING;
`,
  },
  {
    version: 3,
    name: 'dashboard accounts and sessions, alerts and the follow-up of bad reviews',
    // Each part's tables live beside the code that uses them (gateway/accounts/, gateway/alerts/, gateway/live/).
    sql: ACCOUNTS_SQL + ALERTS_SQL + LIVE_SQL,
  },
];
