import { createHash } from 'node:crypto';
import { lstat, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { sniffImageFormat } from '../../data/sniff-image-format.js';
import { ServeError } from '../serve-error.js';
import { storedName } from './receive-upload.js';
import { makeDirectory } from '../../core/make-directory.js';

/** Where an image went: its class and its name there. */
export interface MovedImage {
  readonly label: string;
  readonly file: string;
  /** The class already held this exact image: the moved copy was removed instead (an upload stores an image once). */
  readonly isDuplicate: boolean;
}

/**
 * Moves an image of an upload project into the class folder `label` of `projectDir` (made when new), by one rename
 * on the same file system, so the image is in one class or the other, never half moved. It keeps its name unless the
 * class has a file of that name; it then takes the name an upload would give it (its content's), and when a file of
 * that name holds the same bytes, the class already has the image and the moved copy goes. The class the image
 * leaves goes with its last image, as an image's delete does. `label` must be checked (checkClassName) already.
 * @throws ServeError CONFLICT when the class is not a plain folder, or holds other bytes under the content's name.
 */
export async function moveImageToClass(file: string, projectDir: string, label: string): Promise<MovedImage> {
  const classDir = join(projectDir, label);
  const existing = await lstat(classDir).catch(() => undefined);
  // A link is no class of the dashboard's own: what it leads to is not the project's to write into.
  if (existing && !existing.isDirectory()) {
    throw new ServeError('CONFLICT', `The project's class ${JSON.stringify(label)} is not a folder the dashboard made.`, { hint: 'choose another class name' });
  }
  await makeDirectory(classDir);
  try {
    const moved = await targetName(file, classDir, label);
    if (moved.isDuplicate) await rm(file);
    else await rename(file, join(classDir, moved.file));
    await rmdir(dirname(file)).catch(() => undefined);
    return moved;
  } catch (error) {
    // A class made for this image and left empty would fail every later run.
    if (!existing) await rmdir(classDir).catch(() => undefined);
    throw error;
  }
}

/** Deletes an image of an upload project; its class folder goes with its last image (an empty class fails every run). */
export async function removeClassImage(file: string): Promise<void> {
  await rm(file);
  await rmdir(dirname(file)).catch(() => undefined);
}

async function targetName(file: string, classDir: string, label: string): Promise<MovedImage> {
  const name = basename(file);
  if (!(await isTaken(join(classDir, name)))) return { label, file: name, isDuplicate: false };
  const bytes = await readFile(file);
  const hash = createHash('sha256').update(bytes).digest('hex');
  const format = sniffImageFormat(bytes.subarray(0, 64));
  const content = format ? storedName(hash, format) : `${hash.slice(0, 32)}${extname(name).toLowerCase()}`;
  if (!(await isTaken(join(classDir, content)))) return { label, file: content, isDuplicate: false };
  const held = await readFile(join(classDir, content)).catch(() => undefined);
  if (held?.equals(bytes)) return { label, file: content, isDuplicate: true };
  throw new ServeError('CONFLICT', `Class ${JSON.stringify(label)} already holds other files named ${JSON.stringify(name)} and ${JSON.stringify(content)}.`, {
    hint: 'delete one of them from the class, then try again',
  });
}

async function isTaken(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}
