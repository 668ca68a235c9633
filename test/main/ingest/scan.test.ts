import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHiddenOrSystem, isImageName, scanFolder } from '../../../main/ingest/scan.js';
import { makeTempDir, removeDir } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = makeTempDir('scan');
});
afterEach(() => removeDir(dir));

function touch(rel: string, content = 'x'): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

const rel = (p: string) => path.relative(dir, p);

describe('scanFolder', () => {
  it('lists image files depth first in name order, with size and mtime, and nothing else', async () => {
    touch('b.png', 'four');
    touch('a.JPG');
    touch('sub/c.webp');
    touch('sub/deeper/d.tiff');
    touch('z.gif');
    touch('notes.txt');
    touch('raw.cr2');
    const entries = await scanFolder(dir);
    expect(entries.map((e) => rel(e.path))).toEqual(['a.JPG', 'b.png', 'z.gif', 'sub/c.webp', 'sub/deeper/d.tiff']);
    const b = entries[1]!;
    expect(b).toMatchObject({ kind: 'file', bytes: 4 });
    expect(b.kind === 'file' && b.mtimeMs).toBe(Math.floor(fs.statSync(path.join(dir, 'b.png')).mtimeMs));
  });

  it('skips hidden and system files and folders', async () => {
    touch('.DS_Store');
    touch('Thumbs.db');
    touch('desktop.ini');
    touch('.hidden.jpg');
    touch('.git/objects/x.png');
    touch('__MACOSX/._a.jpg');
    touch('$RECYCLE.BIN/old.jpg');
    touch('kept.jpg');
    expect((await scanFolder(dir)).map((e) => rel(e.path))).toEqual(['kept.jpg']);
    expect(isHiddenOrSystem('Thumbs.db') && isHiddenOrSystem('.DS_Store') && !isHiddenOrSystem('a.jpg')).toBe(true);
    expect(isImageName('x.JPEG') && !isImageName('x.jpg.txt')).toBe(true);
  });

  it('follows symlinked folders once, and reports links back to an ancestor as loops', async () => {
    const outside = makeTempDir('scan-outside');
    try {
      fs.writeFileSync(path.join(outside, 'o.jpg'), 'x');
      fs.symlinkSync(outside, path.join(dir, 'link-a'));
      fs.symlinkSync(outside, path.join(dir, 'link-b'));
      fs.symlinkSync(dir, path.join(outside, 'back-to-root'));
      touch('sub/s.jpg');
      fs.symlinkSync('..', path.join(dir, 'sub', 'up'));
      const entries = await scanFolder(dir);
      const files = entries.filter((e) => e.kind === 'file').map((e) => rel(e.path));
      expect(files).toEqual(['link-a/o.jpg', 'sub/s.jpg']);
      const loops = entries.filter((e) => e.kind === 'error').map((e) => [rel(e.path), e.kind === 'error' && e.error]);
      expect(loops).toEqual([
        ['link-a/back-to-root', expect.stringMatching(/^symlink loop: points back to /)],
        ['sub/up', expect.stringMatching(/^symlink loop: points back to /)],
      ]);
    } finally {
      removeDir(outside);
    }
  });

  it('reports self-referential and dangling links named like images, and self-loops of any name', async () => {
    fs.symlinkSync('self.jpg', path.join(dir, 'self.jpg'));
    fs.symlinkSync('loop', path.join(dir, 'loop'));
    fs.symlinkSync('nowhere.png', path.join(dir, 'dangling.png'));
    fs.symlinkSync('nowhere', path.join(dir, 'dangling-folder'));
    const entries = await scanFolder(dir);
    expect(entries.map((e) => [rel(e.path), e.kind === 'error' ? e.error : 'file'])).toEqual([
      ['dangling.png', 'broken symlink: its target does not exist'],
      ['loop', 'symlink loop: the link resolves to itself'],
      ['self.jpg', 'symlink loop: the link resolves to itself'],
    ]);
  });

  it('reports a folder named like an image instead of entering or dropping it', async () => {
    touch('album.jpg/inside.jpg');
    const entries = await scanFolder(dir);
    expect(entries).toEqual([{ kind: 'error', path: path.join(dir, 'album.jpg'), error: 'not a file: this is a folder named like an image' }]);
  });

  it.skipIf(process.getuid?.() === 0)('reports a folder it may not read', async () => {
    touch('locked/a.jpg');
    fs.chmodSync(path.join(dir, 'locked'), 0o000);
    try {
      const entries = await scanFolder(dir);
      expect(entries).toEqual([{ kind: 'error', path: path.join(dir, 'locked'), error: 'cannot read folder: permission denied' }]);
    } finally {
      fs.chmodSync(path.join(dir, 'locked'), 0o755);
    }
  });

  it('stops when cancelled', async () => {
    for (let i = 0; i < 5; i++) touch(`d${i}/a.jpg`);
    const controller = new AbortController();
    controller.abort();
    expect(await scanFolder(dir, { signal: controller.signal })).toEqual([]);
  });
});
