export const PAGES = [
  { id: 'datasets', title: 'Datasets' },
  { id: 'curation', title: 'Curation' },
  { id: 'augmentations', title: 'Augmentations' },
  { id: 'runs', title: 'Runs' },
  { id: 'reports', title: 'Reports' },
] as const;
export type PageId = (typeof PAGES)[number]['id'];

function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id)?.id ?? 'datasets';
}

/** The page on show, kept in the URL's hash so a reload stays put (the ?token= query is left alone). */
export class Navigation {
  page = $state<PageId>(pageFromHash());

  constructor() {
    window.addEventListener('hashchange', () => {
      this.page = pageFromHash();
    });
  }

  go(page: PageId): void {
    this.page = page;
    history.replaceState(null, '', `#/${page}`);
  }
}
