import type { DenseLayerWeights } from '../core/dense-layer.js';
import { GraftError } from '../core/errors.js';

/**
 * Refuses labels a model directory cannot hold: fewer than two, an empty or repeated one (graft.json's schema would
 * refuse the directory on load, and predictions would be ambiguous).
 * @throws GraftError INVALID_CONFIG naming the label.
 */
export function checkHeadLabels(labels: readonly string[]): void {
  if (!Array.isArray(labels) || labels.length < 2) {
    throw new GraftError('INVALID_CONFIG', `labels must list at least 2 classes. Received: ${JSON.stringify(labels)}`, { hint: 'pass the class names in the order of the head\'s outputs' });
  }
  const seen = new Set<string>();
  labels.forEach((label, i) => {
    if (typeof label !== 'string' || label.length === 0 || label.length > 1000) {
      throw new GraftError('INVALID_CONFIG', `labels[${i}] must be a non-empty string (at most 1000 characters). Received: ${JSON.stringify(label)}`, { hint: 'name every class' });
    }
    if (seen.has(label)) throw new GraftError('INVALID_CONFIG', `labels[${i}] repeats ${JSON.stringify(label)}: every class needs its own name`, { hint: 'pass each class once, in the order of the head\'s outputs' });
    seen.add(label);
  });
}

/**
 * Refuses a head that is not a chain of Dense layers on raw features ending in one probability per label: empty,
 * shapes that do not chain, a softmax before the last layer, a relu on it, or a weight that is not finite.
 * @throws GraftError INVALID_CONFIG naming the layer and the value.
 */
export function checkHeadLayers(head: readonly DenseLayerWeights[], labels: readonly string[]): void {
  const fix = 'the head is Dense layers on raw features: [inputDim, outputDim] kernels (row-major), hidden relu layers, a softmax (or linear) last layer';
  if (!Array.isArray(head) || head.length === 0) throw new GraftError('INVALID_CONFIG', `head must hold at least one Dense layer. Received: ${Array.isArray(head) ? '[]' : String(head)}`, { hint: fix });
  head.forEach((layer, i) => {
    const where = `head[${i}]`;
    for (const key of ['inputDim', 'outputDim'] as const) {
      if (!Number.isInteger(layer[key]) || layer[key] < 1) throw new GraftError('INVALID_CONFIG', `${where}.${key} must be a positive integer. Received: ${layer[key]}`, { hint: fix });
    }
    if (!(layer.weight instanceof Float32Array) || layer.weight.length !== layer.inputDim * layer.outputDim) {
      throw new GraftError('INVALID_CONFIG', `${where}.weight must be a Float32Array of inputDim x outputDim = ${layer.inputDim * layer.outputDim} values. Received: ${describeArray(layer.weight)}`, { hint: fix });
    }
    if (layer.bias !== null && (!(layer.bias instanceof Float32Array) || layer.bias.length !== layer.outputDim)) {
      throw new GraftError('INVALID_CONFIG', `${where}.bias must be null or a Float32Array of outputDim = ${layer.outputDim} values. Received: ${describeArray(layer.bias)}`, { hint: fix });
    }
    for (const [part, values] of [['weight', layer.weight], ['bias', layer.bias ?? new Float32Array(0)]] as const) {
      const bad = values.findIndex((v: number) => !Number.isFinite(v));
      if (bad >= 0) throw new GraftError('INVALID_CONFIG', `${where}.${part}[${bad}] is not a finite number. Received: ${values[bad]}`, { hint: 'the fit diverged or read missing values: refit the head (e.g. with more regularisation)' });
    }
    const isLast = i === head.length - 1;
    const allowed = isLast ? ['softmax', 'linear'] : ['relu', 'linear'];
    if (!allowed.includes(layer.activation)) {
      throw new GraftError('INVALID_CONFIG', `${where}.activation must be ${allowed.join(' or ')}${isLast ? ' (the last layer)' : ' (a hidden layer)'}. Received: ${JSON.stringify(layer.activation)}`, { hint: fix });
    }
    const next = head[i + 1];
    if (next && next.inputDim !== layer.outputDim) {
      throw new GraftError('INVALID_CONFIG', `${where} outputs ${layer.outputDim} values but head[${i + 1}].inputDim is ${next.inputDim}`, { hint: fix });
    }
  });
  const last = head.at(-1)!;
  if (last.outputDim !== labels.length) {
    throw new GraftError('INVALID_CONFIG', `The head's last layer outputs ${last.outputDim} values but labels lists ${labels.length} classes. Received labels: ${JSON.stringify(labels.slice(0, 10))}${labels.length > 10 ? '...' : ''}`, {
      hint: 'pass one label per output of the last layer, in its order',
    });
  }
}

function describeArray(value: unknown): string {
  if (value instanceof Float32Array) return `Float32Array(${value.length})`;
  if (Array.isArray(value)) return `an Array of ${value.length} (use Float32Array.from)`;
  return value === null ? 'null' : typeof value;
}
