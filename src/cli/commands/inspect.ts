import type { Command } from 'commander';
import { inspectDataset, type DatasetSummary } from '../../data/inspect.js';
import { LABEL_PATTERN_HELP } from '../options.js';
import { printResult, reportFailure } from '../output.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('summarise a dataset before training: classes, counts, and every file that cannot be used, with the reason')
    .argument('<dir>', 'class sub-folders, a folder with train/ and val/, or a CSV')
    .option('--no-decode', 'skip the decode check (faster; only extensions are checked)')
    .option('--label-pattern <regex>', LABEL_PATTERN_HELP)
    .option('--json', 'print one JSON object on stdout', false)
    .action(async (dir: string, flags: { decode: boolean; json: boolean; labelPattern?: string }) => {
      try {
        const summary = await inspectDataset(dir, { checkDecode: flags.decode, labelPattern: flags.labelPattern });
        printResult(flags.json, summary, () => formatSummary(summary));
      } catch (error) {
        reportFailure(error, flags.json);
      }
    });
}

function formatSummary(s: DatasetSummary): string {
  const lines = [`${s.path} (${s.layout === 'csv' ? 'manifest' : s.layout})`];
  for (const part of s.parts) {
    lines.push(`  ${part.name}: ${part.imageCount} image${part.imageCount === 1 ? '' : 's'} in ${part.labels.length} class${part.labels.length === 1 ? '' : 'es'} (${part.root})`);
    const width = Math.max(24, ...part.classes.map((c) => c.label.length));
    for (const c of part.classes) lines.push(`    ${c.label.padEnd(width)} ${String(c.count).padStart(6)}${c.readable === undefined || c.readable === c.count ? '' : `  (${c.count - c.readable} unreadable)`}`);
    for (const f of [...part.skipped, ...part.unreadable]) lines.push(`    skipped ${f.file}: ${f.reason}`);
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  for (const g of s.duplicates) {
    const tags = [g.isAcrossSplits ? `train and ${[...new Set(g.files.map((f) => f.part).filter((p) => p !== 'train'))].join(' and ')}` : '', g.hasConflictingLabels ? 'different labels' : ''].filter(Boolean).join(', ');
    lines.push(`    same image${tags ? ` (${tags})` : ''}: ${g.files.map((f) => `${f.file} [${f.part === 'all' ? '' : `${f.part}/`}${f.label}]`).join(', ')}`);
  }
  return lines.join('\n');
}
