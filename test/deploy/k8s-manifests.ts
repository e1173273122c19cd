import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../support.js';

/** Helpers shared by the deploy tests: the manifests under deploy/k8s as plain objects. */

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env?: { name: string; value?: string }[];
  [key: string]: unknown;
}

/** Every YAML document of a manifest file, parsed (a syntax error fails the test with the file named). */
export function readManifest(file: string): Record<string, any>[] {
  const text = readFileSync(join(repoRoot, 'deploy/k8s', file), 'utf8');
  const docs = parseAllDocuments(text);
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return docs.map((doc) => doc.toJS() as Record<string, any>);
}

export function findKind(docs: Record<string, any>[], kind: string): Record<string, any> {
  const found = docs.find((d) => d.kind === kind);
  if (!found) throw new Error(`no ${kind} in manifest`);
  return found;
}

/**
 * The container's argv with `$(VAR)` expanded as Kubernetes expands it: from the container's env, where `overrides`
 * replace values (the test maps the pod's volume paths to local folders).
 */
export function expandArgs(container: Container, overrides: Record<string, string>): string[] {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  Object.assign(env, overrides);
  return container.args.map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => {
      if (!(name in env)) throw new Error(`${container.name}: ${whole} has no env value`);
      return env[name]!;
    }),
  );
}
