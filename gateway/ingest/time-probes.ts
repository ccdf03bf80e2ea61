import { ackSchema, timeProbeSchema } from '../../protocol/acks.js';
import { explain } from '../../protocol/issues.js';
import { terminalIdSchema } from '../../protocol/records.js';
import { terminalIdOfTopic, terminalTopics } from '../../protocol/topics.js';
import type { Clock, Logger, Publisher } from '../ports.js';

export interface TimeProbeDeps {
  publisher: Publisher;
  prefix: string;
  clock: Clock;
  logger: Logger;
}

/**
 * A terminal asks the time (its clock is not trusted, `…/time`): the answer, on its `…/acks`, is
 * an ack naming the probe with serverTime. Anything else on the topic is logged and unanswered.
 * Never rejects: resolves with what it did.
 */
export async function answerTimeProbe(deps: TimeProbeDeps, topic: string, payload: Buffer): Promise<'answered' | 'ignored' | 'failed'> {
  const terminalId = terminalIdOfTopic(topic, 'time', deps.prefix);
  if (terminalId === undefined || !terminalIdSchema.safeParse(terminalId).success) {
    deps.logger.warn({ topic }, 'gateway: not a terminal time topic; unanswered');
    return 'ignored';
  }
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    body = undefined;
  }
  const probe = explain(timeProbeSchema, body);
  if (!probe.ok) {
    deps.logger.warn({ terminalId, problems: probe.problems }, 'gateway: not a time probe {"probe": "<id>"}; unanswered');
    return 'ignored';
  }
  const ack = ackSchema.parse({ ids: [probe.data.probe], status: 'accepted', serverTime: deps.clock.now().toISOString() });
  try {
    await deps.publisher.publish(terminalTopics(terminalId, deps.prefix).acks, JSON.stringify(ack), { qos: 1 });
    return 'answered';
  } catch (err) {
    deps.logger.warn({ err, terminalId }, 'gateway: time probe answer not published');
    return 'failed';
  }
}
