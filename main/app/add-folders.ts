import path from 'node:path';
import type { Reply } from '../../shared/wire.js';
import type { Dispatch } from '../rpc/dispatcher.js';

/** The dataset a menu import goes into: named after the first folder, as a user would name it by hand. */
export function datasetNameForFolders(folders: readonly string[]): string {
  // mirrors DatasetName in shared/contract/common.ts: no slashes or control characters
  const base = path.basename(path.resolve(folders[0] ?? '')).replace(/[\u0000-\u001f/\\]/g, ' ').trim();
  return (base || 'Imported folders').slice(0, 200);
}

/**
 * The menu's "Add Folder…": the folders the user picked become one import job, started through the dispatcher so
 * it is checked and reported exactly like the same request from the renderer (progress arrives as onDidProgress).
 */
export async function importPickedFolders(dispatch: Dispatch, folders: readonly string[], labelsFromFolders: boolean): Promise<Reply | null> {
  if (folders.length === 0) return null;
  return dispatch('datasets.import', { paths: [...folders], dataset: datasetNameForFolders(folders), labelsFromFolders });
}
