/** A TF.js model.json's `modelTopology` when it is an object, else `{}`; any JSON parses, only objects are read. */
export function modelTopology(json: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const topology = json['modelTopology'];
  return typeof topology === 'object' && topology !== null && !Array.isArray(topology) ? (topology as Record<string, unknown>) : {};
}
