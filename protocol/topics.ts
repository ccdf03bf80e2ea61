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
  /** Terminal to province: a time probe, answered on `acks` with `serverTime`. */
  time: string;
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
    time: `${base}/time`,
  };
}

/** A leaf topic the receiving end (gateway, province emulator) reads from every terminal. */
export type ProvinceLeaf = 'records' | 'state' | 'time' | 'telemetry';

/** Subscription that matches one leaf topic (records, state, time) of every terminal under a prefix (the province's side). */
export function allTerminalsFilter(leaf: ProvinceLeaf, prefix = DEFAULT_TOPIC_PREFIX): string {
  return `${prefix}/+/${leaf}`;
}

/** The terminal id a `…/{leaf}` topic belongs to, or undefined if the topic is not one. */
export function terminalIdOfTopic(topic: string, leaf: ProvinceLeaf, prefix = DEFAULT_TOPIC_PREFIX): string | undefined {
  if (!topic.startsWith(`${prefix}/`)) return undefined;
  const [terminalId, last, ...more] = topic.slice(prefix.length + 1).split('/');
  return last === leaf && more.length === 0 && terminalId ? terminalId : undefined;
}
