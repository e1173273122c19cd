import type { ModelFormat } from '../core/model-format.js';
import { FORMAT_ENTRIES } from './registry.js';

/** Every format Graft reads, in the order detection asks them (the registry's order). */
export const MODEL_FORMATS: readonly ModelFormat[] = FORMAT_ENTRIES.map((entry) => entry.name);
