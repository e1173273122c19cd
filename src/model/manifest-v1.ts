/**
 * Version 1 manifests recorded training in one flat `training` object: the config a run replays, mixed with what
 * the run found. Version 2 splits them (`training.config`, `training.outcome`); this reads a version 1 manifest as
 * version 2, so models written before the split still load, replay, evaluate and serve. Plain records in and out:
 * what the keys hold is unchanged, only where they sit.
 */

/** Keys of v1's `training` that record the run's result; every other key is configuration. */
const OUTCOME_KEYS: ReadonlySet<string> = new Set(['data', 'images', 'bestEpoch', 'stoppedEarly', 'backend', 'selection', 'labelIssues']);
/** Keys of v1's `training.fineTune` that record the phase's result; every other key is its configuration. */
const FINE_TUNE_OUTCOME_KEYS: ReadonlySet<string> = new Set(['cut', 'firstEpoch', 'bestEpoch', 'stoppedEarly', 'exportCheck', 'kept']);

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Splits a record's keys in two by `toSecond`, keeping each key's value and presence (a `null` stays a `null`). */
function partition(record: Json, toSecond: ReadonlySet<string>): [Json, Json] {
  const first: Json = {};
  const second: Json = {};
  for (const [key, value] of Object.entries(record)) (toSecond.has(key) ? second : first)[key] = value;
  return [first, second];
}

/** A version 1 manifest, read as version 2: `training` split into `config` and `outcome`, everything else as it was. */
export function upgradeV1(manifest: Json): Json {
  const { training, ...rest } = manifest;
  if (!isRecord(training)) return { ...rest, version: 2 };
  const { fineTune, ...flat } = training;
  const [config, outcome] = partition(flat, OUTCOME_KEYS);
  if (isRecord(fineTune)) {
    const [fineTuneConfig, fineTuneOutcome] = partition(fineTune, FINE_TUNE_OUTCOME_KEYS);
    config.fineTune = fineTuneConfig;
    outcome.fineTune = fineTuneOutcome;
  }
  return { ...rest, version: 2, training: { config, outcome } };
}
