// Catalog.open hands better-sqlite3 whatever sqliteNativeBinding picks: with a lookup that points at a file that
// does not exist, opening fails naming that file, so the option really reaches the constructor.
import { describe, expect, it, vi } from 'vitest';

const binding = vi.hoisted(() => ({ path: undefined as string | undefined }));
vi.mock('../../../main/catalog/sqlite-binding.js', () => ({ sqliteNativeBinding: () => binding.path }));

const { Catalog } = await import('../../../main/catalog/catalog.js');

describe('Catalog.open and the native binding', () => {
  it('opens with the default addon when the lookup has none (plain Node)', () => {
    binding.path = undefined;
    const catalog = Catalog.open(':memory:');
    expect(catalog.db.pragma('user_version', { simple: true })).toBeGreaterThan(0);
    catalog.close();
  });

  it('loads the addon the lookup names', () => {
    binding.path = '/nonexistent/electron-native/better_sqlite3.node';
    expect(() => Catalog.open(':memory:')).toThrow(/cannot open catalog :memory:.*\/nonexistent\/electron-native\/better_sqlite3\.node/);
  });
});
