import { ConfigError, loadConfigFile } from '../bridge/config.js';
import { synthesisConfigSchema, voiceCacheDir, voiceConfigSchema } from '../bridge/voice/config.js';
import { EspeakSynthesizer } from '../bridge/voice/espeak.js';
import { PromptLibrary } from '../bridge/voice/prompt-library.js';
import { PROMPT_NAMES, PROMPTS } from '../protocol/voice-prompts.js';

/**
 * `hcp voice build`: synthesizes the default prompts (protocol/voice-prompts.ts) with espeak-ng
 * into the cache the bridge reads: the config's (voice.cacheDir, or beside the database), or
 * --cache-dir with the default synthesis settings (an image built ahead). What a hall recorded
 * itself is left alone. Exit code 1 if any prompt could not be made.
 */
export async function voiceBuildCommand(options: { config?: string; cacheDir?: string }): Promise<void> {
  const config = options.config === undefined ? undefined : loadConfigFile(options.config);
  if (config && !config.voice) console.log(`hcp voice build: ${options.config} has no voice section; building with the default settings`);
  const voice = config?.voice ?? voiceConfigSchema.parse({});
  const cacheDir = options.cacheDir ?? (config ? voiceCacheDir(voice, config.database.path) : undefined);
  if (cacheDir === undefined) throw new ConfigError('hcp voice build: give -c <bridge config> or --cache-dir <folder>', []);
  const synthesis = config?.voice?.synthesis ?? synthesisConfigSchema.parse({});
  const library = new PromptLibrary({ promptsDir: voice.promptsDir, cacheDir, synthesizer: new EspeakSynthesizer(synthesis) });
  const report = await library.prepare();
  const failed = new Map(report.failed.map((f) => [f.what, f.error]));
  console.log(`hcp voice build: ${cacheDir} (espeak-ng ${synthesis.voice}, ${synthesis.rate} words a minute)`);
  for (const name of PROMPT_NAMES) {
    const how = report.recorded.includes(name) ? "the hall's recording" : report.made.includes(name) ? 'made' : report.cached.includes(name) ? 'already made' : `FAILED: ${failed.get(name)}`;
    const file = (await library.fileFor({ kind: 'prompt', name })) ?? '-';
    console.log(`  ${String(PROMPTS[name].clip).padStart(2)} ${name.padEnd(15)} ${PROMPTS[name].text}  ${how}  ${file}`);
  }
  process.exitCode = report.failed.length ? 1 : 0;
}
