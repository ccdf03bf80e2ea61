/** Upstream MQTT topics, contract v1. The prefix is configurable; the terminal id is one topic level. */
export const DEFAULT_TOPIC_PREFIX = 'hcp/v1';

export interface TerminalTopics {
  records: string;
  acks: string;
  state: string;
  telemetry: string;
  config: string;
  cmd: string;
  cmdResult: string;
}

export function terminalTopics(terminalId: string, prefix = DEFAULT_TOPIC_PREFIX): TerminalTopics {
  const base = `${prefix}/${terminalId}`;
  return {
    records: `${base}/records`,
    acks: `${base}/acks`,
    state: `${base}/state`,
    telemetry: `${base}/telemetry`,
    config: `${base}/config`,
    cmd: `${base}/cmd`,
    cmdResult: `${base}/cmd/result`,
  };
}

/** Subscription that matches the records of every terminal under a prefix (the province's side). */
export function allRecordsFilter(prefix = DEFAULT_TOPIC_PREFIX): string {
  return `${prefix}/+/records`;
}

/** The terminal id a records topic belongs to, or undefined if the topic is not one. */
export function terminalIdOfRecordsTopic(topic: string, prefix = DEFAULT_TOPIC_PREFIX): string | undefined {
  const match = topic.startsWith(`${prefix}/`) && topic.slice(prefix.length + 1).match(/^([^/]+)\/records$/);
  return match ? match[1] : undefined;
}
