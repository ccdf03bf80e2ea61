import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../bridge/config.js';
import { explain } from '../protocol/issues.js';
import { staffRosterSchema, type ProvinceConfig } from '../protocol/province-config.js';
import type { GatewayConfig } from './config.js';

/** What the gateway publishes on each approved terminal's `…/config`: checked at start, so a bad file stops it before it publishes anything. */
export function loadTerminalConfig(config: GatewayConfig): ProvinceConfig | undefined {
  const { reasonCatalog, staffRosterFile, gradeProfile } = config.terminals.config;
  let staffRoster: ProvinceConfig['staffRoster'];
  if (staffRosterFile !== undefined) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(staffRosterFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`terminals.config.staffRosterFile: cannot read ${staffRosterFile}: ${(err as Error).message}`, []);
    }
    const roster = explain(staffRosterSchema, raw);
    if (!roster.ok) throw new ConfigError(`terminals.config.staffRosterFile ${staffRosterFile} is invalid:`, roster.problems);
    staffRoster = roster.data;
  }
  if (reasonCatalog === undefined && staffRoster === undefined && gradeProfile === undefined) return undefined;
  return { ...(reasonCatalog && { reasonCatalog }), ...(staffRoster && { staffRoster }), ...(gradeProfile && { gradeProfile }) };
}
