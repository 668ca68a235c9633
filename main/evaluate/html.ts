import type { Report } from '../../shared/contract/evaluate.js';
import { RESIZE_RULE } from './extract.js';

/**
 * A report as one self-contained HTML page: inline CSS and inline SVG charts, no scripts, no fonts, no links or
 * images from anywhere else, so it opens offline, prints to PDF as it is, and can be mailed as one file.
 * SVG is written inline without an xmlns (HTML5 parses it), so the page holds no URL at all.
 */

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(1)}%`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function encoderLabel(r: Report): string {
  const e = r.encoder;
  if (e.kind === 'random') return `random-init ${e.backbone}`;
  return `run ${e.runId}: ${e.method ?? '?'} ${e.backbone}, ${e.epochs ?? '?'} epochs (${e.steps ?? '?'} steps)`;
}

export interface HeadlineRow {
  metric: string;
  encoder: string;
  random: string;
  pixels: string;
}

/** The headline table as rows of formatted strings (the CLI prints the same rows as text). */
export function headlineRows(r: Report): HeadlineRow[] {
  const rows: HeadlineRow[] = [];
  const rnd = r.baselines.random;
  if (r.linear) {
    rows.push({ metric: 'linear top-1', encoder: pct(r.linear.top1), random: pct(rnd.linear?.top1), pixels: pct(r.baselines.pixels.linear.top1) });
    rows.push({ metric: 'linear top-5', encoder: pct(r.linear.top5), random: '—', pixels: '—' });
  } else {
    rows.push({ metric: 'linear top-1', encoder: '—', random: '—', pixels: pct(r.baselines.pixels.linear.top1) });
  }
  if (r.knn) {
    rows.push({ metric: 'kNN k=10', encoder: pct(r.knn.k10), random: '—', pixels: '—' });
    rows.push({ metric: 'kNN k=20', encoder: pct(r.knn.k20), random: pct(rnd.knn?.k20), pixels: '—' });
    rows.push({ metric: 'kNN k=100', encoder: pct(r.knn.k100), random: '—', pixels: '—' });
  }
  for (const [fraction, f] of Object.entries(r.fractions)) {
    rows.push({
      metric: `linear top-1, ${+(Number(fraction) * 100).toFixed(2)}% labels`,
      encoder: `${pct(f.mean)} ± ${(100 * f.std).toFixed(1)}`,
      random: '—',
      pixels: '—',
    });
  }
  return rows;
}

export function headlineText(r: Report): string {
  const rows = headlineRows(r);
  const head = { metric: 'protocol', encoder: r.encoder.kind === 'run' ? `run ${r.encoder.runId}` : 'encoder', random: 'random-init', pixels: 'raw pixels' };
  const all = [head, ...rows];
  const w = (k: keyof HeadlineRow) => Math.max(...all.map((x) => x[k].length));
  const line = (x: HeadlineRow) => `  ${x.metric.padEnd(w('metric'))}  ${x.encoder.padStart(w('encoder'))}  ${x.random.padStart(w('random'))}  ${x.pixels.padStart(w('pixels'))}`;
  return all.map(line).join('\n');
}

const CSS = `
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232b; margin: 32px auto; max-width: 920px; padding: 0 16px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
  .meta { color: #5a6470; margin: 0 0 16px; }
  table { border-collapse: collapse; margin: 8px 0; }
  th, td { padding: 4px 12px; border-bottom: 1px solid #dde2e8; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  thead th { background: #f2f4f7; }
  .warn { background: #fff6e0; border: 1px solid #e8c46a; padding: 8px 12px; border-radius: 4px; margin: 8px 0; }
  .note { color: #5a6470; font-size: 12px; }
  svg text { font: 11px system-ui, sans-serif; fill: #1d232b; }
  @media print { body { margin: 0 auto; } h2 { break-after: avoid; } svg { break-inside: avoid; } }
`;

/** Per-class accuracy as horizontal bars, one row per class. */
export function perClassSvg(classes: readonly string[], perClass: readonly number[]): string {
  const rowH = 18;
  const labelW = 120;
  const barW = 420;
  const h = classes.length * rowH + 24;
  const bars = classes
    .map((c, i) => {
      const v = perClass[i] ?? 0;
      const y = i * rowH + 4;
      return (
        `<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${escapeHtml(truncate(c, 18))}</text>` +
        `<rect x="${labelW}" y="${y}" width="${barW}" height="${rowH - 4}" fill="#eef1f5"/>` +
        `<rect x="${labelW}" y="${y}" width="${(barW * v).toFixed(1)}" height="${rowH - 4}" fill="#3b6fb6"><title>${escapeHtml(c)}: ${pct(v)}</title></rect>` +
        `<text x="${labelW + barW + 6}" y="${y + 12}">${pct(v)}</text>`
      );
    })
    .join('');
  const axis = [0, 0.25, 0.5, 0.75, 1]
    .map((t) => `<line x1="${labelW + barW * t}" x2="${labelW + barW * t}" y1="0" y2="${h - 18}" stroke="#c5ccd5" stroke-dasharray="2 3"/><text x="${labelW + barW * t}" y="${h - 4}" text-anchor="middle">${t * 100}%</text>`)
    .join('');
  return `<svg width="${labelW + barW + 60}" height="${h}" viewBox="0 0 ${labelW + barW + 60} ${h}" role="img" aria-label="per-class accuracy">${axis}${bars}</svg>`;
}

/** The confusion matrix as a heatmap: rows are true classes, columns predictions, shade = share of the row. */
export function confusionSvg(classes: readonly string[], confusion: readonly (readonly number[])[]): string {
  const n = classes.length;
  const cell = Math.max(8, Math.min(36, Math.floor(540 / Math.max(1, n))));
  const labelW = 120;
  const longest = Math.max(1, ...classes.map((c) => Math.min(16, c.length)));
  // rotated column labels need about 6 px of height per character
  const top = Math.min(110, 16 + 6 * longest);
  const showCounts = cell >= 24;
  const size = n * cell;
  const cells: string[] = [];
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, j) => {
      const share = count / total;
      const fill = heat(share);
      cells.push(
        `<rect x="${labelW + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${fill}"><title>true ${escapeHtml(classes[i]!)} → predicted ${escapeHtml(classes[j]!)}: ${count} (${pct(share)})</title></rect>`,
      );
      if (showCounts && count > 0) {
        cells.push(`<text x="${labelW + j * cell + cell / 2}" y="${top + i * cell + cell / 2 + 4}" text-anchor="middle" style="fill:${share > 0.5 ? '#fff' : '#1d232b'}">${count}</text>`);
      }
    });
  });
  const rowLabels = classes.map((c, i) => `<text x="${labelW - 6}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${escapeHtml(truncate(c, 18))}</text>`).join('');
  const colLabels = classes
    .map((c, j) => {
      const x = labelW + j * cell + cell / 2 + 4;
      return `<text x="${x}" y="${top - 6}" transform="rotate(-60 ${x} ${top - 6})">${escapeHtml(truncate(c, 16))}</text>`;
    })
    .join('');
  const w = Math.max(labelW + size + 20, 460);
  const h = top + size + 28;
  return (
    `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="confusion matrix">` +
    `${colLabels}${rowLabels}${cells.join('')}` +
    `<text x="${labelW}" y="${h - 6}">rows: true class · columns: predicted class · shade: share of the row</text></svg>`
  );
}

function heat(share: number): string {
  // white → deep blue
  const t = Math.max(0, Math.min(1, share));
  const r = Math.round(255 + (31 - 255) * t);
  const g = Math.round(255 + (78 - 255) * t);
  const b = Math.round(255 + (148 - 255) * t);
  return `rgb(${r},${g},${b})`;
}

/** Which runtime computed each feature set: the user sees whether the fast path ran and, if not, why. */
export function extractionLines(r: Report): string[] {
  return (r.extraction ?? []).map((e) => {
    const how = e.runtime === null ? 'runtime not recorded' : e.runtime === 'onnxruntime' ? 'ONNX Runtime' : `tfjs${e.fallback ? ` (not ONNX Runtime: ${e.fallback})` : ''}`;
    return `${e.features}: ${how}${e.cached ? ', from the feature cache' : ''}`;
  });
}

function extractionNote(r: Report): string {
  const lines = extractionLines(r);
  return lines.length === 0 ? '' : `<p class="note">Feature extraction: ${lines.map(escapeHtml).join('; ')}.</p>`;
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function renderReportHtml(r: Report): string {
  const rows = headlineRows(r);
  const encoderHead = r.encoder.kind === 'run' ? `run ${r.encoder.runId}` : 'encoder (random-init)';
  const table =
    `<table><thead><tr><th>protocol</th><th>${escapeHtml(encoderHead)}</th><th>random-init</th><th>raw pixels</th></tr></thead><tbody>` +
    rows.map((x) => `<tr><td>${escapeHtml(x.metric)}</td><td>${escapeHtml(x.encoder)}</td><td>${escapeHtml(x.random)}</td><td>${escapeHtml(x.pixels)}</td></tr>`).join('') +
    '</tbody></table>';
  const warnings = r.warnings.map((w) => `<div class="warn">⚠ ${escapeHtml(w)}</div>`).join('');
  const fractionTable =
    Object.keys(r.fractions).length === 0
      ? ''
      : '<h2>Label fractions</h2><table><thead><tr><th>labels</th><th>top-1 mean ± std</th><th>per seed</th></tr></thead><tbody>' +
        Object.entries(r.fractions)
          .map(([k, f]) => `<tr><td>${+(Number(k) * 100).toFixed(2)}%</td><td>${pct(f.mean)} ± ${(100 * f.std).toFixed(1)}</td><td>${f.runs.map(pct).join(', ')}</td></tr>`)
          .join('') +
        '</tbody></table><p class="note">Class-balanced subsets of the train labels, one linear probe per seed (seeds 0, 1, 2); std is the sample standard deviation.</p>';
  const linear = r.linear
    ? `<h2>Linear probe</h2><p>top-1 ${pct(r.linear.top1)} · top-5 ${pct(r.linear.top5)} · L2 strength chosen on a validation split: ${r.linear.l2}</p>` +
      `<h2>Per-class accuracy (linear probe)</h2>${perClassSvg(r.classes, r.linear.perClass)}` +
      `<h2>Confusion matrix (linear probe)</h2>${confusionSvg(r.classes, r.linear.confusion)}`
    : '';
  const knn = r.knn
    ? `<h2>kNN (DINO: cosine, temperature-weighted votes, T = 0.07)</h2><table><thead><tr><th>k</th><th>top-1</th></tr></thead><tbody>` +
      `<tr><td>10</td><td>${pct(r.knn.k10)}</td></tr><tr><td>20</td><td>${pct(r.knn.k20)}</td></tr><tr><td>100</td><td>${pct(r.knn.k100)}</td></tr></tbody></table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Curio evaluation report ${r.id}</title><style>${CSS}</style></head>
<body>
<h1>Evaluation report ${r.id}</h1>
<p class="meta">${escapeHtml(encoderLabel(r))} · train <b>${escapeHtml(r.trainDataset)}</b> · test <b>${escapeHtml(r.testDataset)}</b> · ${r.classes.length} classes · ${escapeHtml(r.createdAt)} · ${r.seconds.toFixed(1)} s</p>
${warnings}
<h2>Headline</h2>
${table}
<p class="note">Baselines: the same architecture with random initial weights, and a linear probe on raw pixels area-averaged to 16 × 16. ${escapeHtml(RESIZE_RULE)} Encoder input: ${r.encoder.imageSize} × ${r.encoder.imageSize} px.</p>
${linear}
${knn}
${fractionTable}
<p class="note">Linear probe: multinomial logistic regression on frozen, standardised features, L-BFGS, L2 strength chosen on a class-balanced validation split of train (SimCLR/MoCo protocol).</p>
${extractionNote(r)}
</body></html>
`;
}
