/**
 * electron-builder's beforePack hook (electron-builder.yml): before each platform/arch is packed, the Electron
 * build of better-sqlite3 for that target is made or found in `.electron-native/<os>-<arch>/`, which
 * extraResources then copies into the app. npmRebuild stays off, so electron-builder never rebuilds node_modules
 * in place. A target other than this machine can only use a prebuilt binary.
 */
import { ensureElectronSqlite, NativeBuildError } from './electron-sqlite.js';

/** electron-builder's Arch enum (builder-util), by value. */
const ARCH_NAMES = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'] as const;

/** The part of electron-builder's BeforePackContext this hook reads. */
export interface PackTarget {
  electronPlatformName: string;
  arch: number;
  packager: { projectDir: string; info: { framework: { version: string } } };
}

export async function beforePack(context: PackTarget): Promise<void> {
  const arch = ARCH_NAMES[context.arch];
  if (!arch || arch === 'universal') {
    throw new NativeBuildError(`better-sqlite3 for Electron: arch ${arch ?? context.arch} is not supported; build x64 and arm64 separately`);
  }
  await ensureElectronSqlite({
    repo: context.packager.projectDir,
    electronVersion: context.packager.info.framework.version,
    platform: context.electronPlatformName,
    arch,
    log: (line) => process.stderr.write(`  • ${line}\n`),
  });
}

export default beforePack;
