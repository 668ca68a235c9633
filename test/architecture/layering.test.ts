// The layers, checked rather than hoped for: shared/ imports nothing from main/ or renderer/, renderer/ never
// imports from main/, and only main/app/ (the Electron shell) imports `electron`. Specifiers come from
// TypeScript's own pre-processor, so static, type-only, re-exports, dynamic import() and require() all count.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../..');
const SOURCE = /\.(ts|cts|mts|js|cjs|mjs|svelte)$/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (SOURCE.test(e.name)) out.push(full);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** Every module specifier a source file names. Svelte files contribute their <script> blocks. */
export function specifiers(source: string, fileName: string): string[] {
  const code = fileName.endsWith('.svelte') ? [...source.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n') : source;
  const info = ts.preProcessFile(code, true, true);
  const names = info.importedFiles.map((f) => f.fileName);
  // preProcessFile skips a require() whose argument is not a plain literal in some positions; catch those too.
  for (const m of code.matchAll(/\brequire\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g)) names.push(m[2]!);
  for (const m of code.matchAll(/\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*\)/g)) names.push(m[2]!);
  return [...new Set(names)];
}

type Layer = 'shared' | 'renderer' | 'main/app' | 'main' | 'other';
function layerOf(abs: string): Layer {
  const rel = path.relative(REPO, abs).split(path.sep).join('/');
  if (rel.startsWith('shared/')) return 'shared';
  if (rel.startsWith('renderer/')) return 'renderer';
  if (rel.startsWith('main/app/')) return 'main/app';
  if (rel.startsWith('main/')) return 'main';
  return 'other';
}

const isElectron = (spec: string) => spec === 'electron' || spec.startsWith('electron/');

/** What is wrong with one import, or null. */
export function violation(fromFile: string, spec: string): string | null {
  const from = layerOf(fromFile);
  if (isElectron(spec) && from !== 'main/app') return `only main/app/ may import electron`;
  if (!spec.startsWith('.') && !spec.startsWith('/')) return null;
  const to = layerOf(path.resolve(path.dirname(fromFile), spec));
  if (from === 'shared' && to !== 'shared' && to !== 'other') return `shared/ may not import from ${to}/`;
  if (from === 'shared' && to === 'other') return 'shared/ may not reach outside shared/';
  if (from === 'renderer' && (to === 'main' || to === 'main/app')) return 'renderer/ may not import from main/';
  return null;
}

describe('layering', () => {
  const files = ['shared', 'main', 'renderer'].flatMap((d) => sourceFiles(path.join(REPO, d)));

  it('finds the sources it checks', () => {
    const layers = new Set(files.map(layerOf));
    for (const l of ['shared', 'main', 'main/app', 'renderer'] as const) expect(layers.has(l), l).toBe(true);
  });

  it('has no import that crosses a layer the wrong way', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const file of files) {
      for (const spec of specifiers(fs.readFileSync(file, 'utf8'), file)) {
        checked++;
        const v = violation(file, spec);
        if (v) problems.push(`${path.relative(REPO, file)} imports '${spec}': ${v}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });

  it('sees every way of importing, so a bad import cannot hide', () => {
    const src = [
      "import { a } from '../main/x.js';",
      "import type { B } from '../renderer/y.js';",
      "export * from '../main/z.js';",
      "import '../main/side-effect.js';",
      "const m = await import('electron');",
      "const r = require('electron/main');",
      'const t = import(`../main/template.js`);',
    ].join('\n');
    expect(specifiers(src, 'x.ts')).toEqual(
      expect.arrayContaining(['../main/x.js', '../renderer/y.js', '../main/z.js', '../main/side-effect.js', 'electron', 'electron/main', '../main/template.js']),
    );
    const svelte = `<script lang="ts">\n  import { x } from '../../../main/catalog/catalog.js';\n</script>\n<p>{x}</p>`;
    expect(specifiers(svelte, 'c.svelte')).toEqual(['../../../main/catalog/catalog.js']);

    const inShared = path.join(REPO, 'shared/contract/x.ts');
    const inRenderer = path.join(REPO, 'renderer/src/lib/x.ts');
    const inMain = path.join(REPO, 'main/catalog/x.ts');
    const inApp = path.join(REPO, 'main/app/x.ts');
    expect(violation(inShared, '../../main/services.js')).toMatch(/shared/);
    expect(violation(inShared, '../../renderer/src/x.js')).toMatch(/shared/);
    expect(violation(inShared, './common.js')).toBeNull();
    expect(violation(inRenderer, '../../../main/rpc/handlers.js')).toMatch(/renderer/);
    expect(violation(inRenderer, '../../../shared/wire.js')).toBeNull();
    expect(violation(inMain, 'electron')).toMatch(/electron/);
    expect(violation(inRenderer, 'electron/renderer')).toMatch(/electron/);
    expect(violation(inApp, 'electron')).toBeNull();
    expect(violation(inMain, '../../shared/wire.js')).toBeNull();
  });
});
