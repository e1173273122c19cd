import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerReport } from '../../src/cli/commands/report.js';
import { buildReport } from '../../src/report/build-report.js';
import { formatTick } from '../../src/report/line-chart.js';
import { renderReport } from '../../src/report/render-report.js';
import type { ModelManifest } from '../../src/model/manifest.js';
import { accessibleTables, contrastProblems, focusProblems, namingProblems, tabThrough, type AxTable } from '../web/page-accessibility.js';
import { artifactsDir, chromiumSkipReason, hasChromium, launchChromium, removeTinyModel, trainTinyModel, type TinyModel } from '../web/web-support.js';

describe('renderReport (pure)', () => {
  const manifest = {
    labels: ['a<b', 'c'],
    preprocessing: { inputSize: 224, resize: 'stretch', interpolation: 'bilinear', scale: '0..1', mean: [0, 0, 0], std: [1, 1, 1], layout: 'nhwc', channels: 'rgb' },
    backbone: { name: 'x', source: 'x', format: 'onnx', sha256: '0', featureDim: 8, featureOutput: 'f' },
    metrics: { val: { accuracy: 0.5, loss: 1 }, history: [{ loss: 1, acc: 0.5, val_loss: 1.2, val_acc: 0.4 }, { loss: 0.5, acc: 0.9 }] },
    created: '2025-01-01T00:00:00Z',
  } as unknown as ModelManifest;

  it('escapes labels and file names and works without evaluation data', () => {
    const html = renderReport({ manifest, modelName: '<m>', evaluation: null, generatedAt: 'now' });
    expect(html).toContain('a&lt;b');
    expect(html).not.toContain('<m>');
    expect(html).toContain('--data');
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|https?:\/\//i);
    // A file name may hold markup (a legal name on Linux): in the mistakes and the labels to check, as text.
    const file = '/d/x<img src=y onerror=alert(1)>.jpg';
    const mistake = { file, true: 'a<b', predicted: 'c', confidence: 0.9, thumbnail: 'data:image/jpeg;base64,AA==' };
    const evaluation = { dataset: '/d', count: 2, accuracy: 0.5, perClass: {}, macroF1: 0.5, confusion: { labels: ['a<b', 'c'], matrix: [[0, 1], [0, 1]] }, misclassified: [mistake], misclassifiedTotal: 1, skipped: 0 };
    const withFiles = renderReport({ manifest, modelName: 'm', evaluation, labelIssues: [{ file, given: 'c', predicted: 'a<b', confidence: 0.9, givenProbability: 0.05 }], generatedAt: 'now' });
    expect(withFiles).not.toContain('<img src=y');
    expect(withFiles.match(/x&lt;img src=y onerror=alert\(1\)&gt;\.jpg/g)?.length).toBeGreaterThanOrEqual(4);
    // A backslash is a letter of a Linux file name: the caption named "script>.jpg" for "<script<\script>.jpg".
    const slashed = { ...mistake, file: '/d/a\\b.jpg' };
    const named = renderReport({ manifest, modelName: 'm', evaluation: { ...evaluation, misclassified: [slashed] }, generatedAt: 'now' });
    expect(named).toContain(process.platform === 'win32' ? '>b.jpg<' : '>a\\b.jpg<');
  });

  it("gives each chart's points as a table: caption, headers with scope, values as the chart writes them, gaps said", () => {
    const html = renderReport({ manifest, modelName: 'm', evaluation: null, generatedAt: 'now' });
    expect(html.match(/<details class="chart-data"><summary>Data table/g)).toHaveLength(2);
    expect(html).toContain('<caption class="visually-hidden">Loss</caption><thead><tr><th scope="col">epoch</th><th scope="col">train loss</th><th scope="col">val loss</th></tr></thead>');
    // The second epoch has no validation scores: a gap in the line, 'n/a' in the table.
    expect(html).toContain('<tr><th scope="row">2</th><td>0.500</td><td>n/a</td></tr>');
    expect(html).toContain('<tr><th scope="row">1</th><td>0.500</td><td>0.400</td></tr>');
  });

  it('says what a fine-tuning run kept, and the held-out comparison that decided it', () => {
    const cut = { tensor: 't', description: 'last 1 block' };
    const outcome = (kept: 'fine-tuned' | 'head', holdout?: object) => ({
      ...manifest,
      training: { config: { fineTune: { views: 2, schedule: 'one-cycle' } }, outcome: { bestEpoch: 1, fineTune: { cut, firstEpoch: 2, bestEpoch: 1, stoppedEarly: false, exportCheck: { images: 1, maxAbsDiff: 0 }, kept, ...(holdout ? { holdout } : {}) } } },
    }) as unknown as ModelManifest;
    const compared = renderReport({ manifest: outcome('head', { images: 27, headLoss: 0.319, bestLoss: 0.106, headAccuracy: 1, bestAccuracy: 0.9774, t: -8.6 }), modelName: 'm', evaluation: null, generatedAt: 'now' });
    expect(compared).toContain('the head alone (fine-tuning did not clearly beat it); on 27 held-out training images: log-loss 0.106 against the head&#39;s 0.319, accuracy 97.7% against 100.0%');
    // No epoch trained (no accuracies), or a manifest written before they were kept: what was kept, nothing more.
    const bare = renderReport({ manifest: outcome('fine-tuned', { images: 4, headLoss: 0.25, bestLoss: null }), modelName: 'm', evaluation: null, generatedAt: 'now' });
    expect(bare).toContain('<dd>the fine-tuned network</dd>');
  });

  it('warns next to the labels to check when the head that found them is weak', () => {
    const issue = { file: '/d/a/1.jpg', given: 'a<b', predicted: 'c', confidence: 0.9, givenProbability: 0.05 };
    const withCv = (accuracy: number) =>
      renderReport({
        manifest: { ...manifest, training: { config: {}, outcome: { selection: { criterion: 'log-loss', folds: 5, grouped: false, chosen: { head: 'linear', trainViews: 'plain', tta: false, c: 1, accuracy, logLoss: 0.5 }, table: [], seconds: 0 } } } } as unknown as ModelManifest,
        modelName: 'm',
        evaluation: null,
        labelIssues: [issue],
        generatedAt: 'now',
      });
    expect(withCv(0.76)).toContain('Labels to check (1)');
    expect(withCv(0.76)).toContain('The head is right on 76% of the training images out of fold, so some of these are its own mistakes');
    expect(withCv(0.95)).toContain('Labels to check (1)');
    expect(withCv(0.95)).not.toContain('its own mistakes');
  });

  it('says the labels were not checked when no cross-validation ran (an MLP head), not that none was contradicted', () => {
    const render = (selection: unknown) =>
      renderReport({ manifest: { ...manifest, training: { config: {}, outcome: { selection, labelIssues: [] } } } as unknown as ModelManifest, modelName: 'm', evaluation: null, labelIssues: [], generatedAt: 'now' });
    const mlp = render(null);
    expect(mlp).toContain('Labels not checked: no cross-validation ran for this head');
    expect(mlp).not.toContain('None: no training image');
    const linear = render({ criterion: 'log-loss', folds: 5, grouped: false, chosen: { head: 'linear', trainViews: 'plain', tta: false, c: 1, accuracy: 0.9, logLoss: 0.3 }, table: [], seconds: 0 });
    expect(linear).toContain('None: no training image&#39;s label was confidently contradicted by cross-validation.');
  });

  // graft.json edited by hand: a loader checks only what inference needs.
  it('escapes every value it prints, tolerates a missing number, and says why held-out images were not scored', () => {
    const chosen = { head: 'linear', trainViews: 'plain', tta: false, c: 1, accuracy: 0.9, logLoss: 0.3 };
    const selection = { criterion: 'log-loss<img src=x onerror=alert(1)>', folds: 5, grouped: false, chosen, table: [chosen], seconds: 0 };
    const edited = { ...manifest, metrics: { val: { accuracy: 0.5 }, history: [] }, training: { config: {}, outcome: { selection } } } as unknown as ModelManifest;
    const issue = { file: '/d/a/1.jpg', given: 'a<b', predicted: 'c', confidence: 0.9, givenProbability: 0.05 };
    const html = renderReport({ manifest: edited, modelName: 'm', evaluation: null, labelIssues: [issue], labelIssuesTotal: 105, notScored: '/d has <changed>', generatedAt: 'now' });
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('the lowest log-loss&lt;img src=x onerror=alert(1)&gt; won');
    expect(html).toContain('<dd>accuracy 50.0%</dd>');
    // A list cut to the most suspicious says so, as the mistakes do.
    expect(html).toContain('Labels to check (the 1 most suspicious of 105)');
    expect(html).toContain('/d has &lt;changed&gt;, so there is no confusion matrix');
  });
});

describe('graft report on a trained model', () => {
  let model: TinyModel;
  let html: string;
  beforeAll(async () => {
    model = await trainTinyModel();
    html = (await buildReport(model.dir)).html;
    await mkdir(artifactsDir, { recursive: true });
    await writeFile(join(artifactsDir, 'report.html'), html);
  });
  afterAll(() => removeTinyModel(model));

  it('is one self-contained HTML file with the cross-validation plots, confusion matrix, per-class table and mistakes', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Nothing external: no scripts, stylesheets or images fetched from anywhere.
    expect(html).not.toMatch(/<script|<link |src="(?!data:)|url\(/i);
    // The linear head has no epochs: its two charts are CV accuracy and log-loss against C, the chosen one marked; the
    // evaluation's two are the reliability diagram and the images in each confidence bin.
    expect(html.match(/<svg class="chart"/g)).toHaveLength(4);
    expect(html).toMatch(/aria-label="Reliability over \d+ values of confidence/);
    expect(html).toMatch(/Calibration error \(ECE, the gap weighted by each bin&#39;s images\): \d+\.\d%, (within|beyond) chance \(a calibrated model (reaches|stays under) \d+\.\d% on these images (1 time|19 times) in 20\)\. Mean confidence \d+\.\d% against accuracy \d+\.\d%/);
    expect(html).toMatch(/<dt>Accuracy<\/dt><dd>\d+\.\d% \(95% interval \d+\.\d%-\d+\.\d%\), macro F1 /);
    expect(html).toMatch(/<dt>Probabilities<\/dt><dd>log-loss \d\.\d{3}, calibration error \d+\.\d% \(mean confidence \d+\.\d%\)<\/dd>/);
    expect(html).toContain('How the head was chosen');
    expect(html).toMatch(/aria-label="Cross-validated accuracy over \d+ values of C/);
    expect(html).toContain('>chosen</text>');
    // Each candidate's line has a pattern of its own (legend included), not only a colour of its own.
    const chart = html.slice(html.indexOf('<svg class="chart"'), html.indexOf('</svg>') + 6);
    const legend = [...chart.matchAll(/<line x1="[\d.]+" x2="[\d.]+" y1="12" y2="12" stroke="([^"]+)" stroke-width="2"( stroke-dasharray="[^"]+")?\/>/g)].map((m) => m[2] ?? 'solid');
    expect(legend.length).toBeGreaterThan(1);
    expect(new Set(legend).size).toBe(legend.length);
    expect(html).toContain('Labels to check');
    expect(html).toContain('<table class="confusion"');
    for (const label of ['circles', 'squares', 'triangles']) expect(html).toContain(`<th scope="row">${label}</th>`);
    expect(html).toContain('<table class="per-class"');
    // Three classes and at least one mistake: the pairs most confused, each a row naming its true class.
    expect(html).toMatch(/<h2 id="mc-h">Most confused classes<\/h2>[^]*?<tr><td>\d+<\/td><th scope="row">(circles|squares|triangles)<\/th>/);
    // The tiny model is not perfect on its 6 validation images (recorded val accuracy < 1): mistakes are shown.
    const thumbs = html.match(/<img src="data:image\/jpeg;base64,[A-Za-z0-9+/=]+" alt="[^"]+predicted [^"]+"/g) ?? [];
    expect(thumbs.length).toBeGreaterThan(0);
    console.log(`report: ${(html.length / 1024).toFixed(0)} kB, ${thumbs.length} misclassified thumbnails`);
  });

  it('`graft report --json` writes the file and prints one JSON object', async () => {
    const out = join(model.root, 'sub', 'r.html');
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    try {
      const program = new Command('graft').exitOverride();
      registerReport(program);
      await program.parseAsync(['node', 'graft', 'report', model.dir, '--data', model.data.root, '--out', out, '--json']);
    } finally {
      spy.mockRestore();
    }
    const result = JSON.parse(writes.join('')) as { report: string; accuracy: number; dataset: string };
    expect(result.report).toBe(out);
    expect(result.dataset).toBe(model.data.valDir);
    expect(await readFile(out, 'utf8')).toContain('Confusion matrix');
  });

  it.skipIf(!hasChromium)('opens from file://, fits 1280 px and 390 px, and reads with a screen reader and without colour: names, alt text, contrast, focus', async () => {
    const chromium = await launchChromium();
    try {
      const page = await chromium.browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await page.goto(pathToFileURL(join(artifactsDir, 'report.html')).href);
        // A string, evaluated in the page: the test's own tsconfig has no DOM types.
        const layout = await page.evaluate<{ scrollWidth: number; clientWidth: number; images: number[] }>(
          '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth, images: [...document.images].map((i) => i.naturalWidth) })',
        );
        expect(layout.scrollWidth, `horizontal overflow at ${width}px`).toBeLessThanOrEqual(layout.clientWidth);
        expect(layout.images.every((w) => w > 0)).toBe(true);
        await page.screenshot({ path: join(artifactsDir, `report-${width}.png`), fullPage: true });
      }
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);

      expect.soft(await namingProblems(page)).toEqual([]);
      expect.soft(await contrastProblems(page)).toEqual([]);
      // The scrollable tables are reachable (and scrollable) with the keyboard, and show it.
      const walk = await tabThrough(page);
      expect(focusProblems(walk)).toEqual([]);
      expect(walk.stops.map((s) => s.what)).toEqual([
        'summary "Data table of Cross-validated accuracy"',
        'summary "Data table of Cross-validated log-loss"',
        'div "Confusion matrix, scrollable"',
        'div "Most confused classes, scrollable"',
        'div "Per-class scores, scrollable"',
        'summary "Data table of Reliability"',
        'summary "Data table of Images per bin"',
      ]);
      // Each chart's table, opened from the keyboard and read through the accessibility tree, holds the run's numbers.
      const manifest = JSON.parse(await readFile(join(model.dir, 'graft.json'), 'utf8')) as ModelManifest;
      const selection = manifest.training!.outcome.selection!;
      expect(await accessibleTables(page).then((tables) => tables.map((t) => t.name))).toEqual(['Confusion matrix', 'Most confused classes', 'Per-class scores']);
      for (const summary of await page.locator('summary').all()) {
        await summary.focus();
        await page.keyboard.press('Enter');
      }
      const tables = await accessibleTables(page);
      const kindOf = (r: { trainViews: string; tta: boolean }): string => `${r.trainViews}${r.tta ? ' + TTA' : ''}`;
      const kinds = [...new Set(selection.table.map(kindOf))];
      const cs = [...new Set(selection.table.map((r) => r.c))].sort((a, b) => a - b);
      for (const [title, metric] of [['Cross-validated accuracy', 'accuracy'], ['Cross-validated log-loss', 'logLoss']] as const) {
        const table = tables.find((t) => t.name === title);
        expect(table, title).toBeDefined();
        expect(table!.rows[0]).toEqual(['C', ...kinds].map((name) => ({ role: 'columnheader', name })));
        expect(table!.rows.length - 1).toBe(cs.length);
        table!.rows.slice(1).forEach((row, i) => {
          const c = cs[i]!;
          // The C label is the axis's: one significant digit.
          expect(row[0]!.role).toBe('rowheader');
          expect(Math.abs(Number(row[0]!.name) - c) / c, `${row[0]!.name} for C ${c}`).toBeLessThan(0.5);
          kinds.forEach((kind, k) => {
            const score = selection.table.find((r) => r.c === c && kindOf(r) === kind);
            const isChosen = score !== undefined && score.c === selection.chosen.c && kindOf(score) === kindOf(selection.chosen);
            const expected = score ? `${formatTick(score[metric])}${isChosen ? ' (chosen)' : ''}` : 'n/a';
            expect(row[k + 1], `${title}, C ${c}, ${kind}`).toEqual({ role: 'cell', name: expected });
            if (score) expect(Math.abs(parseFloat(row[k + 1]!.name) - score[metric])).toBeLessThanOrEqual(0.005 * Math.max(1, score[metric]));
          });
        });
      }
      expect.soft(await namingProblems(page)).toEqual([]);
      expect.soft(await contrastProblems(page)).toEqual([]);
      expect(focusProblems(await tabThrough(page))).toEqual([]);
      await page.setViewportSize({ width: 390, height: 900 });
      expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth'), 'horizontal overflow at 390px, tables open').toBe(false);
      await page.screenshot({ path: join(artifactsDir, 'report-tables-390.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      const alts = await page.evaluate<string[]>("[...document.querySelectorAll('.mistakes img')].map((i) => i.alt)");
      expect(alts.length).toBeGreaterThan(0);
      for (const alt of alts) expect(alt).toMatch(/^.+: labelled \w+, (predicted|looks like) \w+, \d+\.\d%$/);

      // Every shade of the confusion matrix, right and wrong: its counts stay readable, and a right cell differs
      // from a wrong one by more than its colour.
      const labels = Array.from({ length: 11 }, (_, i) => `class ${i}`);
      const matrix = labels.map((_, t) => labels.map((__, p) => (p === t ? t : p === (t + 1) % 11 ? 10 - t : 0)));
      const confusion = { labels, matrix };
      const perClass = Object.fromEntries(labels.map((l) => [l, { precision: 0.5, recall: 0.5, f1: 0.5, support: 10 }]));
      const evaluation = { dataset: 'd', count: 110, accuracy: 0.5, perClass, macroF1: 0.5, confusion, misclassified: [], misclassifiedTotal: 0, skipped: 0 };
      // Training curves (an MLP head, then fine-tuning from epoch 3): their tables hold the history's numbers, the
      // fine-tuning epochs said, a missing validation score said as 'n/a'.
      const history = [{ loss: 1.25, acc: 0.5, val_loss: 1.3, val_acc: 0.45 }, { loss: 0.8, acc: 0.75, val_loss: 0.9, val_acc: 0.6 }, { loss: 0.45, acc: 0.875 }, { loss: 0.2, acc: 0.9583, val_loss: 0.35, val_acc: 0.9 }];
      const curves = { ...manifest, metrics: { ...manifest.metrics, history }, training: { ...manifest.training!, outcome: { ...manifest.training!.outcome, fineTune: { cut: { tensor: 't', description: 'last 1 block' }, firstEpoch: 3, bestEpoch: 2, stoppedEarly: false, exportCheck: { images: 1, maxAbsDiff: 0 }, kept: 'fine-tuned' } } } } as unknown as ModelManifest;
      await page.setContent(renderReport({ manifest: curves, modelName: 'curves', evaluation: null, generatedAt: 'now' }));
      for (const summary of await page.locator('summary').all()) await summary.click();
      const curveTables = new Map((await accessibleTables(page)).map((t): [string, AxTable] => [t.name, t]));
      for (const [title, train, val] of [['Loss', 'loss', 'val_loss'], ['Accuracy', 'acc', 'val_acc']] as const) {
        const table = curveTables.get(title);
        expect(table?.rows.map((row) => row.map((cell) => cell.name)), title).toEqual([
          ['epoch', `train ${train === 'loss' ? 'loss' : 'acc'}`, `val ${train === 'loss' ? 'loss' : 'acc'}`],
          ...history.map((h, i) => [`${i + 1}${i + 1 >= 3 ? ' (fine-tuning)' : ''}`, formatTick(h[train]), val in h ? formatTick((h as Record<string, number>)[val]!) : 'n/a']),
        ]);
        expect(table!.rows.slice(1).every((row) => row[0]!.role === 'rowheader')).toBe(true);
      }
      expect(curveTables.get('Accuracy')!.rows[3]).toEqual([{ role: 'rowheader', name: '3 (fine-tuning)' }, { role: 'cell', name: '0.875' }, { role: 'cell', name: 'n/a' }]);

      await page.setContent(renderReport({ manifest, modelName: 'shades', evaluation, generatedAt: 'now' }));
      expect(await contrastProblems(page)).toEqual([]);
      const weights = await page.evaluate<{ right: string[]; wrong: string[] }>(`(() => {
        const rows = [...document.querySelectorAll('table.confusion tr')].slice(1).map((r) => [...r.querySelectorAll('td')]);
        const weight = (td) => getComputedStyle(td).fontWeight;
        return { right: rows.map((cells, t) => weight(cells[t])), wrong: rows.flatMap((cells, t) => cells.filter((_, p) => p !== t).map(weight)) };
      })()`);
      expect(new Set(weights.right)).toEqual(new Set(['700']));
      expect(new Set(weights.wrong)).toEqual(new Set(['400']));
    } finally {
      await chromium.close();
    }
  });
});

if (!hasChromium) chromiumSkipReason('report browser test');
