import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Report } from '../../shared/contract/evaluate.js';
import { CurioError, invalid } from '../common/errors.js';
import { renderReportHtml } from './html.js';

export type ExportFormat = 'html' | 'json' | 'pdf';

/**
 * `name` inside `dir`, refusing anything that would land elsewhere: separators, `..`, absolute names, NUL.
 * The resolved path is checked too, so no spelling of a name escapes the folder the user chose.
 */
export function safeJoin(dir: string, name: string): string {
  if (name.length === 0 || name.includes('\u0000') || name.includes('/') || name.includes('\\') || name === '.' || name === '..' || path.isAbsolute(name)) {
    throw invalid(`refusing to write "${name}": a file name may not contain path separators or be "." or ".."`);
  }
  const base = path.resolve(dir);
  const file = path.resolve(base, name);
  const rel = path.relative(base, file);
  if (rel.startsWith('..') || path.isAbsolute(rel) || rel.includes(path.sep)) {
    throw invalid(`refusing to write "${name}": it resolves outside ${base}`);
  }
  return file;
}

/**
 * The folder an export goes to, as the user chose it. A path that walks up with `..` is refused rather than
 * resolved, since a renderer (untrusted) sends it; a path that is a file is refused too.
 */
export function exportFolder(out: string): string {
  if (out.includes('\u0000')) throw invalid('export folder contains a NUL byte');
  if (out.split(/[\\/]+/).includes('..')) throw invalid(`refusing export folder "${out}": it walks up with ".."; choose the folder itself`);
  const dir = path.resolve(out);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw invalid(`export folder ${dir} is a file, not a folder`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** report-<id>-<train>-vs-<test>.<ext>, with anything but letters, digits, dot, dash and underscore replaced. */
export function reportFileName(r: Report, ext: ExportFormat): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '').slice(0, 60) || 'dataset';
  return `report-${r.id}-${clean(r.trainDataset)}-vs-${clean(r.testDataset)}.${ext}`;
}

/** Candidates for headless printing: $CURIO_CHROMIUM alone when set, else the usual install locations. */
export function chromiumCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CURIO_CHROMIUM) return [env.CURIO_CHROMIUM];
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'];
}

export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = chromiumCandidates(env);
  const found = candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return fs.statSync(c).isFile();
    } catch {
      return false;
    }
  });
  if (!found) {
    throw new CurioError(
      'failed',
      `PDF export needs Chromium or Chrome, and none was found (looked at ${candidates.join(', ')}); install chromium or set CURIO_CHROMIUM to its binary, or export HTML and print it`,
    );
  }
  return found;
}

/** Prints an HTML file to PDF with headless Chromium: no network, no GPU, a throwaway profile. */
export async function printPdf(htmlFile: string, pdfFile: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const chromium = findChromium(env);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'curio-pdf-'));
  const tmpPdf = `${pdfFile}.${process.pid}.tmp.pdf`;
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--no-pdf-header-footer',
          `--user-data-dir=${profile}`,
          `--print-to-pdf=${tmpPdf}`,
          pathToFileURL(htmlFile).href,
        ],
        { timeout: 120_000 },
        (err, _stdout, stderr) => {
          if (err) reject(new CurioError('failed', `Chromium (${chromium}) could not print the report: ${err.message.split('\n')[0]} ${String(stderr).split('\n').find((l) => l.trim()) ?? ''}`.trim()));
          else resolve();
        },
      );
    });
    if (!fs.existsSync(tmpPdf) || fs.statSync(tmpPdf).size === 0) throw new CurioError('failed', `Chromium (${chromium}) wrote no PDF`);
    fs.renameSync(tmpPdf, pdfFile);
  } finally {
    fs.rmSync(tmpPdf, { force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** Writes a report as HTML, JSON or PDF into `outDir` and returns the file written. */
export async function exportReport(r: Report, format: ExportFormat, outDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = exportFolder(outDir);
  const file = safeJoin(dir, reportFileName(r, format));
  if (format === 'json') {
    writeAtomic(file, `${JSON.stringify(r, null, 2)}\n`);
  } else if (format === 'html') {
    writeAtomic(file, renderReportHtml(r));
  } else {
    findChromium(env); // fail before writing anything
    const htmlTmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'curio-report-')), 'report.html');
    try {
      fs.writeFileSync(htmlTmp, renderReportHtml(r));
      await printPdf(htmlTmp, file, env);
    } finally {
      fs.rmSync(path.dirname(htmlTmp), { recursive: true, force: true });
    }
  }
  return file;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
