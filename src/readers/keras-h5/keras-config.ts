import { GraftError } from '../../core/errors.js';

/** A JSON object as Keras serialises it (snake_case keys). */
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Layer classes whose `groups` key tfjs does not know; only `groups: 1` (the default) can be dropped. */
const GROUPED_CONV_CLASSES = new Set(['Conv1D', 'Conv2D', 'Conv3D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose']);

/**
 * Rewrites a Keras `model_config` into the Keras 2 shape that `tf.models.modelFromJSON` accepts.
 *
 * Keras 2 configs pass through almost unchanged (`groups: 1`, which Keras >= 2.4 writes on every
 * convolution including Teachable Machine's DepthwiseConv2D, is dropped). Keras 3 serialisation is
 * translated: `{module, class_name, config, registered_name}` objects lose `module`/`registered_name`,
 * dtype policies become their dtype name, InputLayer `batch_shape` becomes `batch_input_shape`, and
 * Functional `inbound_nodes` written as `{args, kwargs}` with `__keras_tensor__` history become the
 * Keras 2 `[[layer, node, tensor, kwargs], ...]` lists. The input is not modified.
 *
 * @param kerasVersion - the file's `keras_version`; Keras 3 changed `hard_sigmoid` to relu6(x + 3) / 6,
 *   which tfjs (0.2 x + 0.5) would compute differently, so such a model is refused rather than run wrong.
 * @throws GraftError `UNSUPPORTED_MODEL` for a grouped convolution (groups > 1), which tfjs cannot build,
 *   and for a Keras 3 `hard_sigmoid` activation.
 */
export function toTfjsModelConfig(modelConfig: unknown, kerasVersion = 'unknown'): Json {
  if (!isObject(modelConfig) || typeof modelConfig['class_name'] !== 'string') {
    throw new GraftError('INVALID_MODEL_DIR', `model_config is not a Keras model config (no "class_name"). Received: ${JSON.stringify(modelConfig)?.slice(0, 200)}`);
  }
  const translated = translate(modelConfig) as Json;
  if (/^3\./.test(kerasVersion) && JSON.stringify(translated).includes('"activation":"hard_sigmoid"')) {
    throw new GraftError('UNSUPPORTED_MODEL', `This Keras ${kerasVersion} model uses the hard_sigmoid activation, which Keras 3 defines as relu6(x + 3) / 6 and tfjs as clip(0.2 x + 0.5, 0, 1).`, {
      hint: 'importing it would change its outputs silently; re-save the model with an explicit ReLU(6) expression or use Keras 2',
    });
  }
  return translated;
}

function translate(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(translate);
  if (!isObject(value)) return value;
  const className = value['class_name'];
  // Keras 3 dtype policies: {"class_name": "DTypePolicy", "config": {"name": "float32"}} -> "float32".
  if (typeof className === 'string' && /DTypePolicy$/.test(className) && isObject(value['config'])) return value['config']['name'];
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'module' || key === 'registered_name') continue;
    out[key] = translate(child);
  }
  if (typeof className === 'string' && isObject(out['config'])) out['config'] = translateLayerConfig(className, out['config'] as Json);
  if (Array.isArray(out['inbound_nodes'])) out['inbound_nodes'] = out['inbound_nodes'].map(translateInboundNode);
  return out;
}

function translateLayerConfig(className: string, config: Json): Json {
  const out = { ...config };
  if (className === 'InputLayer' && out['batch_shape'] !== undefined && out['batch_input_shape'] === undefined) {
    out['batch_input_shape'] = out['batch_shape'];
    delete out['batch_shape'];
  }
  if (className === 'InputLayer') delete out['optional'];
  if (GROUPED_CONV_CLASSES.has(className) && out['groups'] !== undefined) {
    if (out['groups'] !== 1) {
      throw new GraftError('UNSUPPORTED_MODEL', `${className} layer "${String(out['name'])}" uses groups=${String(out['groups'])}; tfjs has no grouped convolution.`, {
        hint: 'only groups=1 (the default) can be imported',
      });
    }
    delete out['groups'];
  }
  return out;
}

/** Keras 3 `{args: [tensor | tensor[]], kwargs}` -> Keras 2 `[[layer, node, tensor, kwargs], ...]`; Keras 2 nodes pass. */
function translateInboundNode(node: unknown): unknown {
  if (!isObject(node) || !Array.isArray(node['args'])) return node;
  const history: unknown[][] = [];
  const collect = (arg: unknown): void => {
    if (Array.isArray(arg)) arg.forEach(collect);
    else if (isObject(arg) && arg['class_name'] === '__keras_tensor__' && isObject(arg['config'])) {
      const h = arg['config']['keras_history'];
      if (Array.isArray(h) && h.length === 3) history.push([h[0], h[1], h[2], {}]);
    }
  };
  node['args'].forEach(collect);
  if (history.length === 0) {
    throw new GraftError('UNSUPPORTED_MODEL', `A Keras 3 inbound node has no tensor arguments Graft understands. Received: ${JSON.stringify(node).slice(0, 200)}`);
  }
  return history;
}
