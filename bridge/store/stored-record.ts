/** The bridge keeps records by meaning (the protocol's types); the upstream record format adds the rest. */
export type { StoredEvent, StoredInvitation, StoredRecord } from '../../protocol/records.js';
// The uplink calls layout 1's encoder from here until it encodes with its configured format.
export { toUpstream } from '../../protocol/record-formats/v1.js';
