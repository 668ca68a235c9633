import type { Dataset } from '../../../../shared/contract/index.js';
import { api, errorText } from '../../lib/api.js';
import { coalescedLoad } from '../../lib/coalesced-load.js';

/** The catalog's datasets and which one the user is looking at. */
export class DatasetsStore {
  datasets = $state.raw<Dataset[]>([]);
  selectedId = $state<number | null>(null);
  loaded = $state(false);
  error = $state<string | null>(null);
  readonly selected = $derived(this.datasets.find((d) => d.id === this.selectedId) ?? null);
  /** Selected as soon as it shows up, e.g. the dataset an import just created. */
  private pendingName: string | null = null;

  /** Reloads the list; overlapping calls collapse into one extra reload so the last answer wins. */
  readonly load = coalescedLoad({
    fetch: async () => {
      this.datasets = await api.call('datasets.list', {});
      this.error = null;
    },
    onError: (err) => {
      this.error = errorText(err);
    },
    after: () => {
      this.loaded = true;
      this.reconcileSelection();
    },
  });

  /** Removes a dataset's catalog rows (never files on disk) once the user confirmed. */
  async remove(id: number): Promise<void> {
    try {
      await api.call('datasets.delete', { datasetId: id });
      this.error = null;
    } catch (err) {
      this.error = errorText(err);
    }
    await this.load();
  }

  select(id: number | null): void {
    this.selectedId = id;
    this.pendingName = null;
  }

  selectWhenPresent(name: string): void {
    this.pendingName = name;
    this.reconcileSelection();
  }

  private reconcileSelection(): void {
    if (this.pendingName !== null) {
      const match = this.datasets.find((d) => d.name === this.pendingName);
      if (match) {
        this.selectedId = match.id;
        this.pendingName = null;
        return;
      }
    }
    if (this.selectedId !== null && !this.datasets.some((d) => d.id === this.selectedId)) this.selectedId = null;
    if (this.selectedId === null && this.pendingName === null && this.datasets.length > 0) this.selectedId = this.datasets[0]!.id;
  }
}
