import { api, errorText } from '../../lib/api.js';
import { ImagePages, type ImageFilter } from './image-pages.svelte.js';

export interface LabelCount {
  label: string | null;
  count: number;
}
export interface Failure {
  id: number;
  path: string;
  error: string;
}
export type DatasetTab = 'images' | 'failures';

/** What the Datasets page shows of one dataset: its image grid, label counts, failed files and the open image. */
export class DatasetView {
  readonly pages = new ImagePages();
  datasetId = $state<number | null>(null);
  labels = $state.raw<LabelCount[]>([]);
  failures = $state.raw<Failure[]>([]);
  failuresLoaded = $state(false);
  error = $state<string | null>(null);
  tab = $state<DatasetTab>('images');
  openImageId = $state<number | null>(null);
  /** ticks when the grid should jump back to the top (another dataset or filter) */
  viewKey = $state(0);

  show(datasetId: number | null): void {
    this.datasetId = datasetId;
    this.openImageId = null;
    this.labels = [];
    this.failures = [];
    this.failuresLoaded = false;
    this.error = null;
    this.viewKey++;
    this.pages.reset(datasetId);
    void this.loadSide();
  }

  setFilter(filter: Partial<ImageFilter>): void {
    this.viewKey++;
    this.pages.setFilter(filter);
  }

  /** The dataset's rows changed (import running or finished): refetch what is on screen and the side lists. */
  refresh(): void {
    this.pages.refresh();
    void this.loadSide();
  }

  private async loadSide(): Promise<void> {
    const id = this.datasetId;
    if (id === null) return;
    try {
      const [labels, failures] = await Promise.all([
        api.call('images.labels', { datasetId: id }),
        api.call('images.failures', { datasetId: id, limit: 2000 }),
      ]);
      if (id !== this.datasetId) return;
      this.labels = labels;
      this.failures = failures;
      this.failuresLoaded = true;
      this.error = null;
    } catch (err) {
      if (id === this.datasetId) this.error = errorText(err);
    }
  }
}
