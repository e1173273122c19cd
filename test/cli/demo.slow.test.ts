import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJsonOutput, runCli, tempDir } from '../support.js';

interface DemoJson {
  backbone: string;
  backboneNote: string;
  model: string;
  report: string;
  eval: { accuracy: number; count: number };
  predictions: { file: string; predictions: { label: string; probability: number }[] }[];
}

// The README's first command: must work with no network and no ../shared, on the bundled backbone.
describe('graft demo', () => {
  it('trains, evaluates, exports and predicts offline on images it draws itself', async () => {
    const root = await tempDir();
    const run = await runCli(['demo', '--dir', join(root, 'demo'), '--json'], {
      GRAFT_CACHE_DIR: join(root, 'cache'),
      GRAFT_MODELS_DIR: join(root, 'no-models-here'),
    });
    expect(run.code, run.stderr).toBe(0);
    const demo = parseJsonOutput<DemoJson>(run);
    expect(demo.backbone).toBe('nsfwjs_mobilenet_v2');
    expect(demo.backboneNote).toMatch(/weak/);
    expect(demo.backboneNote).toMatch(/mobilenet_v2/);
    for (const f of ['graft.json', 'model.onnx', 'head.bin']) expect(existsSync(join(demo.model, f))).toBe(true);
    expect(readFileSync(demo.report, 'utf8')).toMatch(/Accuracy/);
    // Three classes: chance is 1/3; even the weak bundled backbone must do clearly better.
    expect(demo.eval.accuracy).toBeGreaterThan(0.5);
    expect(demo.eval.count).toBeGreaterThanOrEqual(54);
    expect(demo.predictions.length).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(demo.model, 'graft.json'), 'utf8'));
    expect(manifest.preprocessing).toMatchObject({ inputSize: 224, scale: '0..1', layout: 'nhwc', resize: 'stretch' });
  });

  it('refuses a --dir it cannot create before drawing anything, as a user error (exit 2), not an internal one', async () => {
    const root = await tempDir();
    writeFileSync(join(root, 'a-file'), 'x');
    const run = await runCli(['demo', '--dir', join(root, 'a-file', 'demo')]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(join(root, 'a-file'));
    expect(run.stderr).toContain('choose a --dir');
  });

  it('refuses a --dir holding other files before drawing anything: a project folder kept its data/ and report.txt', async () => {
    const root = await tempDir();
    const project = join(root, 'project');
    mkdirSync(join(project, 'data', 'photos'), { recursive: true });
    writeFileSync(join(project, 'report.txt'), 'my report');
    const run = await runCli(['demo', '--dir', project], { GRAFT_CACHE_DIR: join(root, 'cache') });
    // Before: 180 images drawn into data/ beside the user's, and report.txt replaced once training was refused or not.
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(join(project, 'data', 'photos'));
    expect(readdirSync(join(project, 'data'))).toEqual(['photos']);
    expect(readFileSync(join(project, 'report.txt'), 'utf8')).toBe('my report');
  });

  it('--help lists every command', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['demo', 'train', 'embed', 'eval', 'predict', 'inspect']) expect(help.stdout).toContain(c);
    for (const c of ['train', 'embed', 'eval', 'predict', 'inspect', 'demo']) {
      const sub = await runCli([c, '--help']);
      expect(sub.code).toBe(0);
      expect(sub.stdout).toContain('--json');
    }
  });
});
