import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import { describeDuplicates } from '../data/find-duplicates.js';
import type { ProgressEvent, ProgressListener } from '../core/progress.js';
import { printable } from './output.js';

export interface RenderOptions {
  /** Where progress goes; stderr so that stdout holds only results (and exactly one JSON object with --json). */
  readonly stream?: NodeJS.WriteStream;
  /** Draw bars (TTY) or print lines (pipes, CI logs). Defaults to the stream's isTTY. */
  readonly isTTY?: boolean;
  /** Print nothing but warnings (skipped files, duplicates, fallbacks). */
  readonly quiet?: boolean;
}

/**
 * Turns library progress events into terminal output: a bar with rate and ETA on a TTY, one line per epoch
 * (and a few lines per extraction) when piped.
 */
export function renderProgress(options: RenderOptions = {}): ProgressListener & { stop(): void } {
  const stream = options.stream ?? process.stderr;
  const isTTY = options.isTTY ?? Boolean(stream.isTTY);
  const quiet = options.quiet ?? false;
  let bar: CliProgress.SingleBar | undefined;
  let lastLineAt = 0;
  /** Whether this extraction's last line (done = total) is out: extraction reports its end more than once. */
  let endPrinted = false;
  const line = (text: string): void => {
    if (bar) bar.stop();
    bar = undefined;
    stream.write(`${text}\n`);
  };
  const startBar = (total: number, unit: string, from = 0): void => {
    bar?.stop();
    // Loaded on the first bar: a piped or --json run (most scripted ones) never draws one.
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
    bar = new cliProgress.SingleBar(
      {
        stream,
        format: `  {bar} {value}/{total} ${unit} | {rate} | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        // Before any progress the ETA is 'INF' or 'NULL', which cli-progress's own formatter cuts to "NFs".
        formatTime: (t, options, roundTo) => (typeof t === 'number' ? cliProgress.Format.TimeFormat(t, options, roundTo) : '--'),
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, from, { rate: '' });
  };
  /** A count on the bar, drawn again where it is gone: a skipped file's line ends it, and not every count has a start event. */
  const countOnBar = (done: number, total: number, unit: string, rate: string): void => {
    if (!bar) startBar(total, unit, done);
    bar!.update(done, { rate });
  };
  /** The same count piped: a line every 5 s, and the last one. */
  const countLine = (done: number, total: number, text: string): void => {
    if (done !== total && Date.now() - lastLineAt <= 5000) return;
    lastLineAt = Date.now();
    line(text);
  };

  const listener = (event: ProgressEvent): void => {
    if (quiet && event.type !== 'skip' && event.type !== 'duplicates' && event.type !== 'warning') return;
    switch (event.type) {
      case 'download':
        if (isTTY && event.total) {
          if (!bar) startBar(event.total, 'bytes');
          bar!.update(event.loaded);
        }
        return;
      case 'backbone':
        line(`backbone: ${event.name} (${event.engine}) ${event.message}`);
        return;
      case 'extract-start':
        line(`features: ${event.total} images`);
        endPrinted = false;
        if (isTTY) startBar(event.total, 'img');
        return;
      case 'extract': {
        if (isTTY) {
          countOnBar(event.done, event.total, 'img', `${event.imgPerSec.toFixed(0)} img/s, ${event.cached} cached`);
        } else if (event.done === event.total ? !endPrinted : Date.now() - lastLineAt > 5000) {
          lastLineAt = Date.now();
          endPrinted = event.done === event.total;
          line(`  features ${event.done}/${event.total}: ${event.computed} computed (${event.imgPerSec.toFixed(0)} img/s), ${event.cached} cached`);
        }
        return;
      }
      case 'skip':
        line(`skipped ${printable(event.file)}: ${event.reason}`);
        return;
      case 'check': {
        const rate = `${event.filesPerSec.toFixed(0)} files/s`;
        if (isTTY) countOnBar(event.done, event.total, 'files checked', rate);
        else countLine(event.done, event.total, `  checked ${event.done}/${event.total} files (${rate})`);
        return;
      }
      case 'fetch': {
        const rate = `${event.imagesPerSec.toFixed(1)} img/s${event.failed ? `, ${event.failed} failed` : ''}`;
        if (isTTY) countOnBar(event.done, event.total, 'images fetched', rate);
        else countLine(event.done, event.total, `  fetched ${event.done}/${event.total} images (${rate})`);
        return;
      }
      case 'duplicates': {
        const [first, ...rest] = describeDuplicates(event.groups);
        line(`warning: ${first}${rest.length ? `;\n  ${rest.join(';\n  ')}` : ''}`);
        for (const g of event.groups.slice(0, 10)) line(`  same image: ${describeCopies(g.files)}`);
        // inspect hashes folders, not manifests: for a manifest, train's own list is the whole of it.
        if (event.groups.length > 10) line(`  ... and ${event.groups.length - 10} more`);
        return;
      }
      case 'train-start':
        bar?.stop();
        bar = undefined;
        line(`${event.phase === 'fine-tune' ? 'fine-tuning' : 'training'}: ${event.trainCount} train / ${event.valCount} val images, up to ${event.epochs} epochs`);
        return;
      case 'batch-end':
        if (isTTY) {
          if (event.batch === 1) startBar(event.batches, `batches (epoch ${event.epoch})`);
          bar?.update(event.batch);
        }
        return;
      case 'epoch-end': {
        const l = event.logs;
        const val = l.val_loss === undefined ? '' : ` val_loss ${l.val_loss.toFixed(4)} val_acc ${l.val_acc!.toFixed(4)}`;
        line(`${event.phase === 'fine-tune' ? 'fine-tune ' : ''}epoch ${event.epoch}/${event.epochs} loss ${l.loss.toFixed(4)} acc ${l.acc.toFixed(4)}${val} (${event.seconds.toFixed(2)} s)`);
        return;
      }
      case 'select': {
        bar?.stop();
        bar = undefined;
        const b = event.best;
        line(`select: C=${event.c.toPrecision(2)} (${event.step}/${event.steps}) best so far: ${b.trainViews}${b.tta ? ' + TTA' : ''}, C=${b.c.toPrecision(2)}, CV acc ${b.accuracy.toFixed(4)}, log-loss ${b.logLoss.toFixed(4)}`);
        return;
      }
      case 'early-stop':
        line(`early stop at epoch ${event.epoch}: val_loss has not improved since epoch ${event.bestEpoch}; keeping epoch ${event.bestEpoch}'s weights`);
        return;
      case 'info':
        line(event.message);
        return;
      case 'warning':
        line(`warning: ${event.message}`);
        return;
    }
  };
  return Object.assign(listener, { stop: () => bar?.stop() });
}

/**
 * The files of one duplicate group, a path a manifest lists many times said once with its count ("a.jpg (ants) listed
 * 1000 times"), at most eight entries.
 */
export function describeCopies(files: readonly { readonly file: string; readonly part: string; readonly label: string }[]): string {
  const counts = new Map<string, number>();
  for (const f of files) {
    const key = `${f.file} (${f.part === 'all' ? '' : `${f.part}, `}${f.label})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const shown = [...counts].slice(0, 8).map(([key, n]) => (n > 1 ? `${key} listed ${n} times` : key));
  return `${shown.join(', ')}${counts.size > 8 ? `, and ${counts.size - 8} more files` : ''}`;
}
