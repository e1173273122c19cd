import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support.js';

/**
 * Benches import the build (`dist/...`), which tests never run: a module moved in src/ left four of them crashing at
 * startup unnoticed. Every module a bench names must exist in src/ and export the names the bench takes from it.
 */
const STATEMENT = /(?:import\s*\{([^}]*)\}\s*from\s*|const\s*\{([^}]*)\}\s*=\s*await\s+[^;]*?)'(?:\.\.\/)?(?:dist\/)?([\w/.-]+)\.js'/g;

function benchImports(): { bench: string; module: string; names: string[] }[] {
  const found: { bench: string; module: string; names: string[] }[] = [];
  for (const bench of readdirSync(join(repoRoot, 'bench')).filter((f) => f.endsWith('.mjs'))) {
    const text = readFileSync(join(repoRoot, 'bench', bench), 'utf8');
    for (const match of text.matchAll(STATEMENT)) {
      const module = match[3]!;
      if (module.startsWith('.') || !/^(core|data|engine|features|formats|hub|learn|metrics|model|onnx|onnx-to-layers|onnx-to-tfjs|readers|recipes|report|runtime|serve|tfjs-to-onnx|web|convert|cli)\//.test(module)) continue;
      const names = (match[1] ?? match[2] ?? '').split(',').map((n) => n.trim().split(/\s+as\s+|\s*:\s*/)[0]!.trim()).filter(Boolean);
      found.push({ bench, module, names });
    }
  }
  return found;
}

describe('bench scripts import what the build has', () => {
  const imports = benchImports();

  it('finds the imports of the benches (the pattern still reads them)', () => {
    expect(imports.length).toBeGreaterThan(40);
  });

  it('every module a bench imports exists, and exports the names it takes', async () => {
    const problems: string[] = [];
    for (const { bench, module, names } of imports) {
      const source = join(repoRoot, 'src', `${module}.ts`);
      if (!existsSync(source)) {
        problems.push(`${bench}: src/${module}.ts does not exist`);
        continue;
      }
      const exported = (await import(source)) as Record<string, unknown>;
      for (const name of names) if (!(name in exported)) problems.push(`${bench}: ${module} exports no ${name}`);
    }
    expect(problems).toEqual([]);
  });
});
