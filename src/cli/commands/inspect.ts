import type { Command } from 'commander';
import { inspectDataset, type DatasetSummary } from '../../data/inspect.js';
import { LABEL_PATTERN_HELP } from '../options.js';
import { printable, printResult, reportFailure } from '../output.js';
import { describeCopies, renderProgress } from '../render-progress.js';
import { displayWidth, padEndDisplay } from '../../core/display-width.js';

const MAX_SMALL_CLASS_LINES = 20;
const MAX_DUPLICATE_LINES = 20;
const SMALL_CLASS_WARNING = /(^|: )class ".*" has only \d+ usable images?$/;

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('summarise a dataset before training: classes, counts, and every file that cannot be used, with the reason')
    .argument('<dir>', 'class sub-folders, a folder with train/ and val/, or a CSV')
    .option('--no-decode', 'skip the decode check (faster; only extensions are checked)')
    .option('--label-pattern <regex>', LABEL_PATTERN_HELP)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (dir: string, flags: { decode: boolean; json: boolean; labelPattern?: string }) => {
      // Every file is read and decoded: thousands take a while, so the check shows its progress on stderr.
      const progress = renderProgress({ quiet: flags.json && !process.stderr.isTTY });
      const started = performance.now();
      try {
        const summary = await inspectDataset(dir, {
          checkDecode: flags.decode,
          labelPattern: flags.labelPattern,
          onProgress: (done, total) => progress({ type: 'check', done, total, filesPerSec: done / Math.max((performance.now() - started) / 1000, 1e-9) }),
        });
        progress.stop();
        printResult(flags.json, summary, () => formatSummary(summary));
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      }
    });
}

/** The text `graft inspect` prints (without --json). */
export function formatSummary(s: DatasetSummary): string {
  const lines = [`${s.path} (${s.layout === 'csv' ? 'manifest' : s.layout})`];
  for (const part of s.parts) {
    lines.push(`  ${part.name}: ${part.imageCount} image${part.imageCount === 1 ? '' : 's'} in ${part.labels.length} class${part.labels.length === 1 ? '' : 'es'} (${part.root})`);
    const width = Math.max(24, ...part.classes.map((c) => displayWidth(c.label)));
    for (const c of part.classes) lines.push(`    ${padEndDisplay(c.label, width)} ${String(c.count).padStart(6)}${c.readable === undefined || c.readable === c.count ? '' : `  (${c.count - c.readable} unreadable)`}`);
    for (const f of [...part.skipped, ...part.unreadable]) lines.push(`    skipped ${printable(f.file)}: ${f.reason}`);
  }
  // Past a screenful, the text says how many more there are; --json holds them all (481 small-class warnings and
  // 300 duplicate lines of 10 000 characters made 3.2 MB of text).
  const small = s.warnings.filter((w) => SMALL_CLASS_WARNING.test(w));
  const shownSmall = new Set(small.slice(0, MAX_SMALL_CLASS_LINES));
  for (const w of s.warnings) if (!SMALL_CLASS_WARNING.test(w) || shownSmall.has(w)) lines.push(`  warning: ${w}`);
  if (small.length > shownSmall.size) lines.push(`  warning: ... and ${small.length - shownSmall.size} more classes with few usable images (--json lists them all)`);
  for (const g of s.duplicates.slice(0, MAX_DUPLICATE_LINES)) {
    const tags = [g.isAcrossSplits ? `train and ${[...new Set(g.files.map((f) => f.part).filter((p) => p !== 'train'))].join(' and ')}` : '', g.hasConflictingLabels ? 'different labels' : ''].filter(Boolean).join(', ');
    lines.push(`    same image${tags ? ` (${tags})` : ''}: ${describeCopies(g.files)}`);
  }
  if (s.duplicates.length > MAX_DUPLICATE_LINES) lines.push(`    ... and ${s.duplicates.length - MAX_DUPLICATE_LINES} more groups of the same image (--json lists them all)`);
  return lines.join('\n');
}
