import { basename } from 'node:path';
import { describeHoldout } from '../core/fine-tune-holdout.js';
import { LABELS_NOT_CHECKED, labelIssuesCaveat, type SelectionReport } from '../core/selection-report.js';
import { decimalsApart, isBeyondChance } from '../metrics/calibration.js';
import { isAbsentClass, type EvaluationReport } from '../metrics/classification.js';
import type { LabelIssue } from '../learn/select/label-issues.js';
import type { ModelManifest, TrainingConfig, TrainingOutcome } from '../model/manifest.js';
import { escapeHtml } from './escape-html.js';
import { chartFigure } from './chart-figure.js';
import { LINE_STROKES } from './line-chart.js';
import { hslToRgb, readableTextOn } from './readable-text-color.js';
import { REPORT_CSS } from './report-css.js';

/** One wrong prediction shown in the report, with its thumbnail as a `data:image/jpeg;base64,...` URI. */
export interface ReportMistake {
  readonly file: string;
  readonly true: string;
  readonly predicted: string;
  readonly confidence: number;
  /** A small JPEG data URI; absent when the file could not be read again. */
  readonly thumbnail?: string;
}

/** The evaluation part of a report: what `evaluateModel` returns, with thumbnails for the mistakes shown. */
export interface ReportEvaluation
  extends Pick<EvaluationReport, 'count' | 'accuracy' | 'top5' | 'perClass' | 'macroF1' | 'confusion'>,
    Partial<Pick<EvaluationReport, 'accuracyInterval' | 'balancedAccuracy' | 'mostConfused' | 'logLoss' | 'calibration'>> {
  /** The folder or CSV that was scored. */
  readonly dataset: string;
  /** The mistakes shown (may be fewer than all; see `misclassifiedTotal`). */
  readonly misclassified: readonly ReportMistake[];
  readonly misclassifiedTotal: number;
  readonly skipped: number;
}

/** Input of {@link renderReport}: plain data, no paths are read. */
export interface ReportData {
  readonly manifest: Pick<ModelManifest, 'labels' | 'preprocessing' | 'backbone' | 'metrics' | 'created'> & {
    /** Read for `trainedBy` (a head trained outside Graft). */
    readonly head?: ModelManifest['head'];
    readonly training?: {
      readonly config?: Partial<Pick<TrainingConfig, 'epochs' | 'learningRate' | 'batchSize' | 'fineTune'>>;
      readonly outcome?: Partial<Pick<TrainingOutcome, 'bestEpoch' | 'stoppedEarly' | 'images' | 'fineTune' | 'selection' | 'data'>>;
    };
  };
  /** Training images whose labels look wrong (from the manifest), with thumbnails where the files could be read. */
  readonly labelIssues?: readonly (LabelIssue & { readonly thumbnail?: string })[];
  /** How many label issues the manifest lists, when `labelIssues` shows only the most suspicious of them. */
  readonly labelIssuesTotal?: number;
  /** The model's name as shown in the title (its directory's basename). */
  readonly modelName: string;
  /** Null when no labelled data was available: the report then shows training curves and recorded metrics only. */
  readonly evaluation: ReportEvaluation | null;
  /** Why there is no evaluation although training held images out (the folder changed since), when so. */
  readonly notScored?: string;
  /** When the report was made (ISO 8601); shown in the footer. */
  readonly generatedAt: string;
}

/**
 * Renders a model report as ONE self-contained HTML document: inline CSS and SVG, images as data URIs, no
 * scripts and no external requests, so it opens from disk, in a mail attachment or in a CI artifact.
 * Pure: data in, string out.
 *
 * @example
 * const html = renderReport({ manifest, modelName: 'bees', evaluation: null, generatedAt: new Date().toISOString() });
 */
export function renderReport(data: ReportData): string {
  const { manifest, evaluation } = data;
  const title = `Graft report: ${data.modelName}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
${summaryList(data)}
</header>
<main>
${manifest.training?.outcome?.selection ? selectionSection(manifest.training.outcome.selection) : ''}
${manifest.metrics.history.length || !manifest.training?.outcome?.selection ? curvesSection(manifest.metrics.history, manifest.training?.outcome?.fineTune?.firstEpoch) : ''}
${data.labelIssues ? labelIssuesSection(data.labelIssues, data.labelIssuesTotal ?? data.labelIssues.length, data.manifest.training?.outcome?.selection) : ''}
${evaluation ? evaluationSections(evaluation) : noEvaluationSection(data)}
</main>
<footer><p>Made by Graft on ${escapeHtml(data.generatedAt)}. Model created ${escapeHtml(manifest.created)}.</p></footer>
</body>
</html>
`;
}

function noEvaluationSection({ manifest, notScored }: ReportData): string {
  const why = notScored ?? (manifest.training?.outcome?.data?.val ? "The model's validation data was not found (moved or deleted)" : 'The model was trained without validation images');
  return `<section aria-labelledby="eval-h"><h2 id="eval-h">Evaluation</h2><p class="note">${escapeHtml(why)}, so there is no confusion matrix. Score images it never trained on: <code>graft report &lt;model-dir&gt; --data &lt;labelled-dir&gt;</code>.</p></section>`;
}

function summaryList(data: ReportData): string {
  const { manifest, evaluation } = data;
  const pre = manifest.preprocessing;
  const items: [string, string][] = [
    ['Classes', `${manifest.labels.length}: ${manifest.labels.join(', ')}`],
    ['Backbone', `${manifest.backbone.name} (${manifest.backbone.format}, ${manifest.backbone.featureDim}-d features)`],
    ['Preprocessing', `${pre.inputSize}px, ${pre.resize}, ${pre.interpolation}, scale ${pre.scale}, ${pre.layout.toUpperCase()}`],
  ];
  // A head saved by recipes.saveHeadModel: Graft never saw its training, so the sections below have nothing of it.
  if (manifest.head && 'trainedBy' in manifest.head && manifest.head.trainedBy === 'external') items.push(['Head', 'trained outside Graft (saved with recipes.saveHeadModel): no training run, selection or history recorded']);
  // Read from graft.json, which a loader checks only for what inference needs: a hand-edited number may be missing.
  const val = manifest.metrics.val;
  if (val && typeof val.accuracy === 'number') items.push(['Recorded validation', `accuracy ${percent(val.accuracy)}${typeof val.loss === 'number' ? `, loss ${val.loss.toFixed(3)}` : ''}`]);
  const t = manifest.training?.outcome;
  if (t?.images) items.push(['Training images', `${t.images.train} train, ${t.images.val} validation, ${t.images.skipped} skipped`]);
  const headEpochs = t?.fineTune ? t.fineTune.firstEpoch - 1 : manifest.metrics.history.length;
  // A linear head is solved, not trained by epochs: there is no best epoch to show.
  if (t?.bestEpoch !== undefined && headEpochs > 0) items.push(['Best epoch', `${t.bestEpoch} of ${headEpochs}${t.stoppedEarly ? ' (stopped early)' : ''}${t.fineTune ? ' (head on frozen features)' : ''}`]);
  if (t?.fineTune) {
    const f = t.fineTune;
    const settings = manifest.training?.config?.fineTune;
    items.push(['Fine-tuning', `${f.cut.description}; best epoch ${f.bestEpoch} of ${manifest.metrics.history.length - headEpochs}, ${settings?.views} augmented views, ${settings?.schedule} schedule`]);
    const compared = describeHoldout(f.holdout);
    if (f.kept) items.push(['Model', `${f.kept === 'fine-tuned' ? 'the fine-tuned network' : 'the head alone (fine-tuning did not clearly beat it)'}${compared ? `; ${compared}` : ''}`]);
  }
  if (evaluation) {
    items.push(['Evaluated on', `${evaluation.dataset} (${evaluation.count} images${evaluation.skipped ? `, ${evaluation.skipped} unreadable` : ''})`]);
    const balanced = evaluation.balancedAccuracy !== undefined && percent(evaluation.balancedAccuracy) !== percent(evaluation.accuracy) ? `, balanced ${percent(evaluation.balancedAccuracy)}` : '';
    const interval = evaluation.accuracyInterval;
    const range = interval ? ` (${Math.round(interval.level * 100)}% interval ${percent(interval.low)}-${percent(interval.high)})` : '';
    items.push(['Accuracy', `${percent(evaluation.accuracy)}${range}${balanced}${evaluation.top5 !== undefined ? `, top-5 ${percent(evaluation.top5)}` : ''}, macro F1 ${evaluation.macroF1.toFixed(3)}`]);
    if (evaluation.logLoss !== undefined && evaluation.calibration) {
      items.push(['Probabilities', `log-loss ${evaluation.logLoss.toFixed(3)}, calibration error ${percent(evaluation.calibration.ece)} (mean confidence ${percent(evaluation.calibration.confidence)})`]);
    }
  }
  return `<dl class="summary">${items.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>`;
}

/** The cross-validation that chose the head: CV accuracy and log-loss against C, one line per candidate. */
function selectionSection(selection: NonNullable<TrainingOutcome['selection']>): string {
  const cs = [...new Set(selection.table.map((r) => r.c))].sort((a, b) => a - b);
  const kinds = [...new Set(selection.table.map((r) => `${r.trainViews}${r.tta ? ' + TTA' : ''}`))];
  const colors = ['#2563eb', '#dc2626', '#059669', '#d97706'];
  const kindOf = (r: (typeof selection.table)[number]): string => `${r.trainViews}${r.tta ? ' + TTA' : ''}`;
  const series = (metric: 'accuracy' | 'logLoss') =>
    kinds.map((kind, i) => ({
      name: kind,
      color: colors[i % colors.length]!,
      stroke: LINE_STROKES[i % LINE_STROKES.length],
      values: cs.map((c) => selection.table.find((r) => r.c === c && kindOf(r) === kind)?.[metric]),
    }));
  const chosen = selection.chosen;
  const highlight = { series: kinds.indexOf(kindOf(chosen)), index: cs.indexOf(chosen.c), label: 'chosen' };
  const xLabels = cs.map((c) => (c >= 1 ? String(Number(c.toPrecision(1))) : c.toExponential(0)));
  const accuracy = chartFigure({ title: 'Cross-validated accuracy', series: series('accuracy'), xLabels, xTitle: 'C', highlight }, 'CV accuracy by C');
  const logLoss = chartFigure({ title: 'Cross-validated log-loss', series: series('logLoss'), xLabels, xTitle: 'C', highlight }, 'CV log-loss by C');
  return `<section aria-labelledby="cv-h"><h2 id="cv-h">How the head was chosen</h2>
<p class="note">${escapeHtml(`${selection.folds}-fold cross-validation${selection.grouped ? ' (grouped)' : ''} on the training images only${selection.sample ? ` (a stratified sample of ${selection.sample.rows} of ${selection.sample.of} rows; the chosen head was refitted on all)` : ''}; the lowest ${selection.criterion} won: ${kindOf(chosen)}, C = ${chosen.c.toPrecision(2)}, CV accuracy ${percent(chosen.accuracy)}.${selection.classWeighted ? ' Scores weigh every class alike (balanced class weights): accuracy is the mean recall over classes.' : ''} Validation and test images were never used to choose.`)}</p>
<div class="charts">${accuracy}${logLoss}</div></section>`;
}

/** Training images whose given label the cross-validated head confidently contradicts. */
function labelIssuesSection(issues: NonNullable<ReportData['labelIssues']>, total: number, selection: SelectionReport | null | undefined): string {
  if (!issues.length) {
    const none = selection ? "None: no training image's label was confidently contradicted by cross-validation." : `Labels ${LABELS_NOT_CHECKED}.`;
    return `<section aria-labelledby="li-h"><h2 id="li-h">Labels to check</h2><p class="note">${escapeHtml(none)}</p></section>`;
  }
  const items = issues.map((m) => {
    const image = m.thumbnail
      ? `<img src="${m.thumbnail}" alt="${escapeHtml(`${baseName(m.file)}: labelled ${m.given}, looks like ${m.predicted}, ${percent(m.confidence)}`)}" decoding="async">`
      : `<div class="missing" role="img" aria-label="thumbnail unavailable">?</div>`;
    return `<li><figure>${image}<figcaption><span class="true">given: <b>${escapeHtml(m.given)}</b></span><span class="pred">looks like: <b>${escapeHtml(m.predicted)}</b> ${percent(m.confidence)}</span><span class="file" title="${escapeHtml(m.file)}">${escapeHtml(baseName(m.file))}</span></figcaption></figure></li>`;
  });
  const caveat = labelIssuesCaveat(selection);
  const shown = issues.length < total ? `the ${issues.length} most suspicious of ${total}` : String(issues.length);
  return `<section aria-labelledby="li-h"><h2 id="li-h">Labels to check (${shown})</h2>
<p class="note">Training images whose given label the head, trained without them, confidently contradicts (confident learning). Most suspicious first: check these files' labels.${caveat ? ` ${escapeHtml(caveat)}` : ''}</p>
<ul class="mistakes">${items.join('')}</ul></section>`;
}

function curvesSection(history: ReportData['manifest']['metrics']['history'], fineTuneFrom: number | undefined): string {
  const marker = fineTuneFrom === undefined ? undefined : { epoch: fineTuneFrom, label: 'fine-tuning' };
  if (!history.length) return `<section aria-labelledby="curves-h"><h2 id="curves-h">Training curves</h2><p class="note">The manifest records no training history.</p></section>`;
  const loss = chartFigure({
    title: 'Loss',
    marker,
    series: [
      { name: 'train loss', values: history.map((h) => h.loss), color: '#2563eb' },
      { name: 'val loss', values: history.map((h) => h.val_loss), color: '#dc2626', stroke: 'dashed' },
    ],
  }, 'Loss per epoch');
  const acc = chartFigure({
    title: 'Accuracy',
    marker,
    yMin: 0,
    yMax: 1,
    series: [
      { name: 'train acc', values: history.map((h) => h.acc), color: '#2563eb' },
      { name: 'val acc', values: history.map((h) => h.val_acc), color: '#dc2626', stroke: 'dashed' },
    ],
  }, 'Accuracy per epoch');
  return `<section aria-labelledby="curves-h"><h2 id="curves-h">Training curves</h2><div class="charts">${loss}${acc}</div></section>`;
}

function evaluationSections(e: ReportEvaluation): string {
  return [confusionSection(e), mostConfusedSection(e), perClassSection(e), calibrationSection(e), mistakesSection(e)].join('\n');
}

/** The confusion matrix as a table whose cells are shaded by their share of the row (recall per true class). */
function confusionSection(e: ReportEvaluation): string {
  const { labels, matrix } = e.confusion;
  const head = `<tr><th scope="col" class="corner">true \\ predicted</th>${labels.map((l) => `<th scope="col"><span>${escapeHtml(l)}</span></th>`).join('')}</tr>`;
  const rows = labels.map((label, t) => {
    const row = matrix[t] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    const cells = labels.map((_, p) => {
      const count = row[p] ?? 0;
      const share = total ? count / total : 0;
      const hue = t === p ? 145 : 0;
      const lightness = Math.round(97 - share * 55);
      const text = readableTextOn(hslToRgb(hue, 65, lightness));
      // Bold on the diagonal: right and wrong differ by more than their hue.
      return `<td${t === p ? ' class="right"' : ''} style="background:hsl(${hue} 65% ${lightness}%);color:${text}" title="${escapeHtml(`${label} predicted as ${labels[p]}: ${count} of ${total}`)}">${count}</td>`;
    });
    return `<tr><th scope="row">${escapeHtml(label)}</th>${cells.join('')}</tr>`;
  });
  return `<section aria-labelledby="cm-h"><h2 id="cm-h">Confusion matrix</h2>
<p class="note">Rows are the true class, columns the predicted class. Shade is the share of the row: green on the diagonal (right, in bold), red off it (wrong).</p>
<div class="scroll" tabindex="0" role="region" aria-label="Confusion matrix, scrollable"><table class="confusion" aria-labelledby="cm-h">${head}${rows.join('')}</table></div></section>`;
}

/** The pairs of classes most often confused: the confusion matrix read for its mistakes, which a wide matrix hides. */
function mostConfusedSection(e: ReportEvaluation): string {
  const pairs = e.mostConfused;
  if (!pairs?.length || e.confusion.labels.length < 3) return '';
  const shown = pairs.slice(0, MAX_CONFUSED_PAIRS);
  const rows = shown.map((p) => `<tr><td>${p.count}</td><th scope="row">${escapeHtml(p.true)}</th><td class="text">${escapeHtml(p.predicted)}</td></tr>`);
  const heading = shown.length < pairs.length ? `Most confused classes (the ${shown.length} largest of ${pairs.length} pairs)` : 'Most confused classes';
  return `<section aria-labelledby="mc-h"><h2 id="mc-h">${escapeHtml(heading)}</h2>
<div class="scroll" tabindex="0" role="region" aria-label="Most confused classes, scrollable"><table class="per-class" aria-labelledby="mc-h"><thead><tr><th scope="col">images</th><th scope="col">true class</th><th scope="col">predicted as</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`;
}

/**
 * The reliability diagram: in each confidence bin, how often the model was right against how sure it was. Bins from
 * the lowest that holds an image to the top, empty ones left as gaps.
 */
function calibrationSection(e: ReportEvaluation): string {
  const c = e.calibration;
  if (!c?.bins.length || e.logLoss === undefined) return '';
  const width = c.bins[0]!.to - c.bins[0]!.from;
  const first = Math.round(c.bins[0]!.from / width);
  const count = Math.round(1 / width) - first;
  const slots = Array.from({ length: count }, (_, i) => c.bins.find((b) => Math.round(b.from / width) === first + i));
  // Each bin is named by its middle (0.95 for 0.9-1.0): the axis' end labels fit, and it reads as a confidence.
  const xLabels = slots.map((_, i) => ((first + i + 0.5) * width).toFixed(2));
  const axis = { xLabels, xTitle: 'confidence' };
  const reliability = chartFigure(
    {
      title: 'Reliability',
      yMin: 0,
      yMax: 1,
      ...axis,
      series: [
        { name: 'accuracy', values: slots.map((b) => b?.accuracy), color: '#2563eb' },
        { name: 'confidence', values: slots.map((b) => b?.confidence), color: '#6b7280', stroke: 'dashed' },
      ],
    },
    'Accuracy and mean confidence in each confidence bin',
  );
  const images = chartFigure({ title: 'Images per bin', yMin: 0, ...axis, series: [{ name: 'images', values: slots.map((b) => b?.count ?? 0), color: '#059669' }] }, 'How many images each confidence bin holds');
  const direction = c.confidence > e.accuracy + 0.005 ? 'overconfident' : c.confidence < e.accuracy - 0.005 ? 'underconfident' : 'as sure as it is right';
  return `<section aria-labelledby="cal-h"><h2 id="cal-h">Calibration</h2>
<p class="note">${escapeHtml(
    `Where the accuracy line lies under the confidence line, the model is surer than it is right (overconfident); over it, less sure. Calibration error (ECE, the gap weighted by each bin's images): ${percent(c.ece, c.eceByChance === undefined ? 1 : decimalsApart(c.ece * 100, c.eceByChance * 100, 1))}${chanceOf(c)}. Mean confidence ${percent(c.confidence)} against accuracy ${percent(e.accuracy)}: ${direction}. Log-loss ${e.logLoss.toFixed(3)}. A bin of few images says little.`,
  )}</p>
<div class="charts">${reliability}${images}</div></section>`;
}

/** Whether the calibration error is more than a calibrated model shows on this many images (absent in reports of older evaluations). */
function chanceOf(c: { readonly ece: number; readonly eceByChance?: number }): string {
  if (c.eceByChance === undefined) return '';
  const byChance = percent(c.eceByChance, decimalsApart(c.ece * 100, c.eceByChance * 100, 1));
  return isBeyondChance({ ece: c.ece, eceByChance: c.eceByChance })
    ? `, beyond chance (a calibrated model stays under ${byChance} on these images 19 times in 20)`
    : `, within chance (a calibrated model reaches ${byChance} on these images 1 time in 20)`;
}

function perClassSection(e: ReportEvaluation): string {
  const rows = e.confusion.labels.map((label, c) => {
    const s = e.perClass[label];
    if (!s) return '';
    if (isAbsentClass(e.confusion.matrix, c)) return `<tr><th scope="row">${escapeHtml(label)}</th><td colspan="3" class="note">no image of this class here, none predicted as it (left out of macro F1)</td><td>0</td></tr>`;
    return `<tr><th scope="row">${escapeHtml(label)}</th><td>${s.precision.toFixed(3)}</td><td>${s.recall.toFixed(3)}</td><td>${s.f1.toFixed(3)}</td><td>${s.support}</td></tr>`;
  });
  return `<section aria-labelledby="pc-h"><h2 id="pc-h">Per-class scores</h2><div class="scroll" tabindex="0" role="region" aria-label="Per-class scores, scrollable"><table class="per-class" aria-labelledby="pc-h"><thead><tr><th scope="col">class</th><th scope="col">precision</th><th scope="col">recall</th><th scope="col">F1</th><th scope="col">support</th></tr></thead><tbody>${rows.join('')}</tbody></table></div></section>`;
}

function mistakesSection(e: ReportEvaluation): string {
  if (!e.misclassifiedTotal) return `<section aria-labelledby="mis-h"><h2 id="mis-h">Misclassified images</h2><p class="note">None: every image was classified correctly.</p></section>`;
  const shown = e.misclassified.length < e.misclassifiedTotal ? ` (the ${e.misclassified.length} most confident of ${e.misclassifiedTotal})` : ` (${e.misclassifiedTotal})`;
  const items = e.misclassified.map((m) => {
    const image = m.thumbnail
      ? `<img src="${m.thumbnail}" alt="${escapeHtml(`${baseName(m.file)}: labelled ${m.true}, predicted ${m.predicted}, ${percent(m.confidence)}`)}" decoding="async">`
      : `<div class="missing" role="img" aria-label="thumbnail unavailable">?</div>`;
    return `<li><figure>${image}<figcaption><span class="true">true: <b>${escapeHtml(m.true)}</b></span><span class="pred">predicted: <b>${escapeHtml(m.predicted)}</b> ${percent(m.confidence)}</span><span class="file" title="${escapeHtml(m.file)}">${escapeHtml(baseName(m.file))}</span></figcaption></figure></li>`;
  });
  return `<section aria-labelledby="mis-h"><h2 id="mis-h">Misclassified images${shown}</h2>
<p class="note">Most confident mistakes first: these are the likeliest mislabelled files.</p>
<ul class="mistakes">${items.join('')}</ul></section>`;
}

const MAX_CONFUSED_PAIRS = 20;

function percent(x: number, decimals = 1): string {
  return `${(x * 100).toFixed(decimals)}%`;
}

/** The file's name, as this platform splits paths: a backslash is a letter of a Linux file name, not a separator. */
function baseName(file: string): string {
  return basename(file);
}
