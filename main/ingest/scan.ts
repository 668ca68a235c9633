import fs from 'node:fs/promises';
import path from 'node:path';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** Names that operating systems and tools leave in folders; they are never images. */
const SYSTEM_NAMES = new Set(['thumbs.db', 'desktop.ini', '__macosx', '$recycle.bin', 'system volume information', 'lost+found']);

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

export function isHiddenOrSystem(name: string): boolean {
  return name.startsWith('.') || SYSTEM_NAMES.has(name.toLowerCase());
}

/** A file the scan found: either a candidate to decode, or a path that failed before any decoding. */
export type ScanEntry =
  | { kind: 'file'; path: string; bytes: number; mtimeMs: number }
  | { kind: 'error'; path: string; error: string };

export interface ScanOptions {
  signal?: AbortSignal;
  onEntry?: (count: number) => void;
}

/**
 * Walks a folder tree for image files. Symlinks are followed, but a folder is entered only once by its real path,
 * so a link back to an ancestor (a loop) ends the walk there and is reported. Hidden and system entries are
 * skipped. A path that looks like an image but cannot be read as a file is reported, not dropped, so the user
 * sees it in the failed list.
 */
export async function scanFolder(root: string, options: ScanOptions = {}): Promise<ScanEntry[]> {
  const entries: ScanEntry[] = [];
  const visited = new Set<string>();
  const rootReal = await fs.realpath(root);
  visited.add(rootReal);
  const stack: { dir: string; ancestors: string[] }[] = [{ dir: path.resolve(root), ancestors: [rootReal] }];

  while (stack.length > 0) {
    if (options.signal?.aborted) break;
    const { dir, ancestors } = stack.pop()!;
    let dirents: import('node:fs').Dirent[];
    try {
      dirents = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      entries.push({ kind: 'error', path: dir, error: `cannot read folder: ${describeFsError(err)}` });
      continue;
    }
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: { dir: string; ancestors: string[] }[] = [];
    for (const d of dirents) {
      if (isHiddenOrSystem(d.name)) continue;
      const full = path.join(dir, d.name);
      const looksLikeImage = isImageName(d.name);
      let isDir = d.isDirectory();
      let isFile = d.isFile();
      if (d.isSymbolicLink()) {
        try {
          const st = await fs.stat(full);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (err) {
          if (looksLikeImage || isLoopError(err)) {
            entries.push({ kind: 'error', path: full, error: symlinkError(err) });
          }
          continue;
        }
      }
      if (isDir && !looksLikeImage) {
        let real: string;
        try {
          real = await fs.realpath(full);
        } catch (err) {
          entries.push({ kind: 'error', path: full, error: `cannot resolve folder: ${describeFsError(err)}` });
          continue;
        }
        if (ancestors.includes(real)) {
          entries.push({ kind: 'error', path: full, error: `symlink loop: points back to ${real}` });
          continue;
        }
        if (visited.has(real)) continue; // reached twice through links; its files are already listed
        visited.add(real);
        subdirs.push({ dir: full, ancestors: [...ancestors, real] });
        continue;
      }
      if (!looksLikeImage) continue;
      if (!isFile) {
        entries.push({ kind: 'error', path: full, error: isDir ? 'not a file: this is a folder named like an image' : 'not a regular file' });
        continue;
      }
      try {
        const st = await fs.stat(full);
        entries.push({ kind: 'file', path: full, bytes: st.size, mtimeMs: Math.floor(st.mtimeMs) });
      } catch (err) {
        entries.push({ kind: 'error', path: full, error: `cannot stat: ${describeFsError(err)}` });
      }
      options.onEntry?.(entries.length);
    }
    // Depth-first in name order: push in reverse so the first name is walked first.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  return entries;
}

function isLoopError(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ELOOP';
}

function symlinkError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ELOOP') return 'symlink loop: the link resolves to itself';
  if (code === 'ENOENT') return 'broken symlink: its target does not exist';
  return `cannot follow symlink: ${describeFsError(err)}`;
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such file or folder';
    case 'EISDIR':
      return 'is a folder, not a file';
    case 'ELOOP':
      return 'symlink loop';
    case 'EIO':
      return 'input/output error while reading';
    default:
      return e?.message ?? String(err);
  }
}
