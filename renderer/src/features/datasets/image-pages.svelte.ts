import type { ImageRow, ImageStatus } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';

export const PAGE_SIZE = 200;
/** Pages kept in memory: enough for several screens around the view; 100k rows would be ~30 MB of JSON. */
const MAX_PAGES = 40;
const MAX_IN_FLIGHT = 4;
/** While the user drags the scrollbar across 100k rows, ask for the pages under the view at most this often. */
const FETCH_INTERVAL_MS = 60;

/** A label filter: a label, `null` for images without one, or `undefined` for all. */
export type LabelFilter = string | null | undefined;

export interface ImageFilter {
  label: LabelFilter;
  status: ImageStatus | undefined;
}

interface Page {
  rows: ImageRow[];
  /** the refresh epoch it was fetched in; older pages are shown until their refetch lands */
  epoch: number;
}

/**
 * Rows of one dataset for a virtualized grid: fetched by offset in pages of 200, only around what is on screen,
 * with a bounded cache. The grid asks for an index range with `want`; rows arrive, `version` ticks, the grid redraws.
 */
export class ImagePages {
  datasetId = $state<number | null>(null);
  filter = $state<ImageFilter>({ label: undefined, status: undefined });
  /** rows matching the filter; null until the first page answers */
  total = $state<number | null>(null);
  version = $state(0);
  error = $state<string | null>(null);

  private pages = new Map<number, Page>();
  private inFlight = new Set<number>();
  private generation = 0;
  private epoch = 0;
  private wanted: [number, number] = [0, PAGE_SIZE - 1];
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Shows another dataset or filter: forgets every cached row. */
  reset(datasetId: number | null, filter: ImageFilter = { label: undefined, status: undefined }): void {
    this.datasetId = datasetId;
    this.filter = filter;
    this.generation++;
    this.pages.clear();
    this.inFlight.clear();
    this.total = null;
    this.error = null;
    this.version++;
    this.wanted = [0, PAGE_SIZE - 1];
    this.schedule(0);
  }

  setFilter(filter: Partial<ImageFilter>): void {
    this.reset(this.datasetId, { ...this.filter, ...filter });
  }

  /** The catalog changed under the same view (an import is adding rows): refetch what is shown, keep showing it. */
  refresh(): void {
    this.epoch++;
    this.schedule(0);
  }

  row(index: number): ImageRow | undefined {
    return this.pages.get(Math.floor(index / PAGE_SIZE))?.rows[index % PAGE_SIZE];
  }

  /** The grid shows rows first..last (inclusive, with overscan). */
  want(first: number, last: number): void {
    this.wanted = [Math.max(0, first), Math.max(first, last)];
    this.schedule(FETCH_INTERVAL_MS);
  }

  private schedule(delayMs: number): void {
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fetchWanted();
    }, delayMs);
  }

  private fetchWanted(): void {
    if (this.datasetId === null) return;
    const [first, last] = this.wanted;
    const lastIndex = this.total === null ? last : Math.min(last, Math.max(0, this.total - 1));
    const firstPage = Math.floor(first / PAGE_SIZE);
    const lastPage = Math.floor(lastIndex / PAGE_SIZE);
    for (let p = firstPage; p <= lastPage; p++) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        this.schedule(FETCH_INTERVAL_MS);
        break;
      }
      const page = this.pages.get(p);
      if ((page && page.epoch === this.epoch) || this.inFlight.has(p)) continue;
      void this.fetchPage(p);
    }
    this.evict(firstPage, lastPage);
  }

  private async fetchPage(pageIndex: number): Promise<void> {
    const generation = this.generation;
    const epoch = this.epoch;
    const datasetId = this.datasetId!;
    const { label, status } = this.filter;
    this.inFlight.add(pageIndex);
    try {
      const page = await api.call('images.list', {
        datasetId,
        offset: pageIndex * PAGE_SIZE,
        limit: PAGE_SIZE,
        ...(label !== undefined ? { label } : {}),
        ...(status !== undefined ? { status } : {}),
      });
      if (generation !== this.generation) return;
      this.pages.set(pageIndex, { rows: page.items, epoch });
      this.total = page.total;
      this.error = null;
      this.version++;
    } catch (err) {
      if (generation === this.generation) this.error = errorText(err);
    } finally {
      if (generation === this.generation) {
        this.inFlight.delete(pageIndex);
        // The view may have moved while this page was on its way.
        this.schedule(FETCH_INTERVAL_MS);
      }
    }
  }

  private evict(firstPage: number, lastPage: number): void {
    if (this.pages.size <= MAX_PAGES) return;
    const centre = (firstPage + lastPage) / 2;
    const byDistance = [...this.pages.keys()].sort((a, b) => Math.abs(b - centre) - Math.abs(a - centre));
    for (const p of byDistance.slice(0, this.pages.size - MAX_PAGES)) this.pages.delete(p);
  }
}
