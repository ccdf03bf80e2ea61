import type { ProvinceLeaf } from '../../protocol/topics.js';
import { allTerminalsFilter } from '../../protocol/topics.js';

/**
 * What a gateway instance subscribes to. Records, time probes and telemetry are split between
 * the instances of one group (`$share/<group>/…`): each message reaches one of them. The
 * retained `state` is not: a broker never sends retained messages to a shared subscription
 * (MQTT 5, 4.8.2), and every instance must see every terminal's state anyway.
 */
export interface GatewaySubscription {
  leaf: ProvinceLeaf;
  filter: string;
}

const SHARED_LEAVES: readonly ProvinceLeaf[] = ['records', 'time', 'telemetry'];

export function gatewaySubscriptions(prefix: string, sharedGroup: string | null): GatewaySubscription[] {
  const shared = SHARED_LEAVES.map((leaf) => ({ leaf, filter: sharedFilter(allTerminalsFilter(leaf, prefix), sharedGroup) }));
  return [...shared, { leaf: 'state', filter: allTerminalsFilter('state', prefix) }];
}

function sharedFilter(filter: string, group: string | null): string {
  return group === null ? filter : `$share/${group}/${filter}`;
}
