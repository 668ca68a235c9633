interface CoalescedLoadOptions {
  /** one round trip; it stores what it fetched */
  fetch: () => Promise<void>;
  /** a failed round (the stores keep the message for the page) */
  onError: (err: unknown) => void;
  /** after the last round, failed or not (mark loaded, fix the selection…) */
  after: () => void;
}

/**
 * A list's reload in which overlapping calls collapse: a call made while a reload is on its way shares its promise
 * and makes it run one more round, so the last answer wins and an event storm costs at most two round trips.
 */
export function coalescedLoad({ fetch, onError, after }: CoalescedLoadOptions): () => Promise<void> {
  let loading: Promise<void> | null = null;
  let again = false;
  return () => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      do {
        again = false;
        try {
          await fetch();
        } catch (err) {
          onError(err);
        }
      } while (again);
      after();
    })().finally(() => {
      loading = null;
    });
    return loading;
  };
}
