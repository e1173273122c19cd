import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ProgressListener } from '../../core/progress.js';
import { UnreadableImageError } from '../../data/decode-image.js';
import { listImageFiles } from '../../data/scan-folder.js';
import type { SkippedFile } from '../../data/dataset.js';
import { GraftModel, type FilePrediction } from '../../model/graft-model.js';
import { parsePositiveInteger } from '../options.js';
import { GraftError } from '../../core/errors.js';
import { printable, printResult, refuseJsonWithCsv, reportFailure } from '../output.js';
import { predictionCsv } from '../prediction-csv.js';
import { renderProgress } from '../render-progress.js';
import { fetchImageBytes } from '../../data/fetch-image.js';
import { isLocalPath, readStdinImage, STDIN_ARGUMENT } from '../remote-image.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify images with a trained model directory')
    .argument('<model-dir>', 'a directory written by graft train')
    .argument('<image...>', 'image files, folders (every image in them, sub-folders included), http(s) URLs, or - for an image on standard input')
    .option('--top <k>', 'how many classes to show per image (1 or more)', parsePositiveInteger, 5)
    .option('--json', 'print JSON on stdout: an array with a row per image, in order (an unreadable image has "error" and no predictions); when none is readable, an error object and exit 2', false)
    .option('--csv', 'print CSV on stdout: path,label,probability (then label_2,probability_2 ... up to --top), error; a row per image, in order. Written where predict runs, it is also a manifest graft train reads (the rows of images it could not read passed over)', false)
    .action(async (modelDir: string, images: string[], flags: { top: number; json: boolean; csv: boolean }) => {
      // Skipped files are always said; the work's progress only where there is enough of it to wait for.
      const warnings = renderProgress({ quiet: true });
      let progress: ProgressListener & { stop(): void } = warnings;
      let model: GraftModel | undefined;
      try {
        refuseJsonWithCsv(flags);
        model = await GraftModel.load(modelDir);
        if (images.filter((i) => i === STDIN_ARGUMENT).length > 1) {
          throw new GraftError('INVALID_CONFIG', 'Standard input (-) holds one image; it was named more than once.', { hint: 'pass - once' });
        }
        const files = await expandFolders(images, warnings);
        if (files.length >= PROGRESS_FROM_IMAGES) progress = renderProgress();
        const { results, skipped } = await predictAll(model, files, flags.top, progress);
        progress.stop();
        if (results.length === 0) {
          const first = skipped[0];
          throw new GraftError('UNREADABLE_IMAGE', first ? `No image could be classified: ${first.file}: ${first.reason}${skipped.length > 1 ? ` (and ${skipped.length - 1} more)` : ''}` : `No images found in ${images.join(', ')}`, {
            hint: 'pass image files (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC), folders holding them, http(s) URLs of images, or - with an image on standard input',
          });
        }
        // One row per image, in the order given: a file that could not be read has its reason and no predictions, so a
        // script gets as many rows as it sent.
        const reasons = new Map(skipped.map((s) => [s.file, s.reason]));
        const byFile = new Map(results.map((r) => [r.file, r]));
        const rows = files.map((file) => byFile.get(file) ?? { file, predictions: [], error: reasons.get(file) ?? 'not classified' });
        if (flags.csv) {
          process.stdout.write(predictionCsv(rows, Math.min(flags.top, model.labels.length)));
          return;
        }
        // Text lists the classified images; the skipped ones were reported on stderr as they were met.
        printResult(flags.json, rows, () =>
          rows
            .filter((r): r is FilePrediction => r.predictions.length > 0)
            .map((r) => [printable(r.file), ...r.predictions.map((p) => `  ${(p.probability * 100).toFixed(1).padStart(5)}%  ${p.label}`)].join('\n'))
            .join('\n'),
        );
      } catch (error) {
        progress.stop();
        reportFailure(error, flags.json);
      } finally {
        await model?.dispose();
      }
    });
}

/**
 * From this many images `graft predict` shows its progress on stderr (a bar on a terminal, a few lines when piped), as
 * `graft eval` does: a folder of thousands takes minutes. Fewer are done in about a second, and a script that asks
 * about one image gets no lines it did not ask for.
 */
const PROGRESS_FROM_IMAGES = 32;

/**
 * Each folder among `paths` replaced by the images in it (sorted), its other files reported as skipped. Images found
 * in a folder are named as the folder was typed (`photos/a.jpg`, not an absolute path), as files given are, so the
 * same image has one name in the output.
 */
async function expandFolders(paths: readonly string[], progress: ProgressListener): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const isFolder = isLocalPath(path) && await stat(path).then((info) => info.isDirectory(), () => false);
    if (!isFolder) {
      files.push(path);
      continue;
    }
    const listed = await listImageFiles(path);
    const asTyped = (file: string): string => join(path, relative(resolve(path), file));
    for (const { file, reason } of listed.skipped) progress({ type: 'skip', file: asTyped(file), reason });
    files.push(...listed.files.map(asTyped));
  }
  return files;
}

/**
 * `model.predict` for the files, and each URL or standard input (`-`) read into memory and classified as the server
 * classifies an upload; one that cannot be read or classified is skipped with its reason, as an unreadable file is.
 */
async function predictAll(model: GraftModel, inputs: readonly string[], topK: number, progress: ProgressListener): Promise<{ results: FilePrediction[]; skipped: SkippedFile[] }> {
  const { results, skipped } = await model.predict(inputs.filter(isLocalPath), { topK, onProgress: progress });
  for (const input of inputs.filter((i) => !isLocalPath(i))) {
    const bytes = input === STDIN_ARGUMENT ? await readStdinImage() : await fetchImageBytes(input, { onRetry: (message) => progress({ type: 'warning', code: 'DOWNLOAD_RETRY', message }) });
    const skip = (reason: string): void => {
      skipped.push({ file: input, reason });
      progress({ type: 'skip', file: input, reason });
    };
    if (!(bytes instanceof Uint8Array)) {
      skip(bytes.reason);
      continue;
    }
    try {
      results.push({ file: input, predictions: await model.predictBytes(bytes, { topK, name: input === STDIN_ARGUMENT ? 'standard input' : input }) });
    } catch (error) {
      if (!(error instanceof UnreadableImageError)) throw error;
      skip(error.reason);
    }
  }
  return { results, skipped };
}
