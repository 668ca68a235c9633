import type { Report } from '../../../../shared/contract/evaluate.js';
import { api, errorText } from '../../lib/api.js';

export type ExportFormat = 'html' | 'json' | 'pdf';

export interface AttentionMaps {
  heads: number;
  images: { imageId: number; image: string; maps: string[] }[];
}

/** One report as its page shows it, with its exports and (for a ViT run) its attention maps. */
export class ReportDetail {
  report = $state.raw<Report | null>(null);
  error = $state<string | null>(null);
  exporting = $state<ExportFormat | null>(null);
  exportError = $state<string | null>(null);
  /** files written by this page's exports, newest first */
  exported = $state.raw<{ format: ExportFormat; file: string }[]>([]);
  attention = $state.raw<AttentionMaps | null>(null);
  attentionBusy = $state(false);
  attentionError = $state<string | null>(null);
  private disposed = false;

  constructor(readonly reportId: number) {}

  async load(): Promise<void> {
    try {
      const r = await api.call('reports.get', { reportId: this.reportId });
      if (this.disposed) return;
      this.report = r;
      this.error = null;
    } catch (err) {
      if (!this.disposed) this.error = errorText(err);
    }
  }

  async export(format: ExportFormat, out: string): Promise<void> {
    this.exporting = format;
    this.exportError = null;
    try {
      const { file } = await api.call('reports.export', { reportId: this.reportId, format, out });
      if (!this.disposed) this.exported = [{ format, file }, ...this.exported.filter((e) => e.file !== file)];
    } catch (err) {
      if (!this.disposed) this.exportError = errorText(err);
    } finally {
      this.exporting = null;
    }
  }

  /** Attention of the run's last layer over `count` images of the test dataset. */
  async loadAttention(count: number): Promise<void> {
    const r = this.report;
    if (!r || r.encoder.runId === null) return;
    this.attentionBusy = true;
    this.attentionError = null;
    try {
      const maps = await api.call('reports.attention', { runId: r.encoder.runId, datasetId: r.testDatasetId, count });
      if (!this.disposed) this.attention = maps;
    } catch (err) {
      if (!this.disposed) this.attentionError = errorText(err);
    } finally {
      this.attentionBusy = false;
    }
  }

  dispose(): void {
    this.disposed = true;
  }
}
