// The preload runs sandboxed, where only `require('electron')` works and nothing from shared/ can be loaded at
// run time. So it is compiled here the way tsc compiles it (CommonJS), run in a VM context with a recording fake
// of electron, and held to the PreloadApi and the channel names of shared/wire.ts.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { IPC_CHANNEL, IPC_EVENT_CHANNEL, mediaPaths, type PreloadApi } from '../../../shared/wire.js';
import { MEDIA_BASE } from '../../../main/app/media.js';

const PRELOAD = path.resolve(import.meta.dirname, '../../../main/app/preload.cts');

function loadPreload(options: { getPathForFile?: (f: unknown) => string } = {}) {
  const source = fs.readFileSync(PRELOAD, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: 'preload.cts',
    compilerOptions: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022 },
  });
  const required: string[] = [];
  const exposed: { key: string; api: PreloadApi }[] = [];
  const invokes: unknown[][] = [];
  const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: PreloadApi) => exposed.push({ key, api }) },
    ipcRenderer: {
      invoke: (...args: unknown[]) => {
        invokes.push(args);
        return Promise.resolve({ ok: true, result: 'answered' });
      },
      on: (channel: string, fn: (...args: unknown[]) => void) => {
        if (!listeners.has(channel)) listeners.set(channel, new Set());
        listeners.get(channel)!.add(fn);
      },
      removeListener: (channel: string, fn: (...args: unknown[]) => void) => listeners.get(channel)?.delete(fn),
    },
    webUtils: { getPathForFile: options.getPathForFile ?? (() => '/dropped/folder') },
  };
  const module = { exports: {} as unknown };
  const sandboxRequire = (id: string) => {
    required.push(id);
    if (id === 'electron') return electron;
    throw new Error(`a sandboxed preload cannot require ${id}`);
  };
  vm.runInNewContext(`(function (exports, require, module) {${outputText}\n})`, {})(module.exports, sandboxRequire, module);
  const emit = (channel: string, ...args: unknown[]) => listeners.get(channel)?.forEach((fn) => fn({ sender: 'ipc-event' }, ...args));
  return { outputText, required, exposed, invokes, listeners, emit };
}

describe('preload', () => {
  it('compiles to CommonJS that requires nothing but electron', () => {
    const { outputText, required } = loadPreload();
    expect(outputText).not.toMatch(/^\s*import\s/m);
    expect(outputText).not.toMatch(/\bimport\(/);
    expect(required).toEqual(['electron']);
    const requireCalls = [...outputText.matchAll(/require\((['"])([^'"]+)\1\)/g)].map((m) => m[2]);
    expect(requireCalls).toEqual(['electron']);
  });

  it('exposes exactly the PreloadApi as window.curio', () => {
    const { exposed } = loadPreload();
    expect(exposed).toHaveLength(1);
    expect(exposed[0]!.key).toBe('curio');
    const keys: (keyof PreloadApi)[] = ['getPathForFile', 'invoke', 'mediaBase', 'onEvent'];
    expect(Object.keys(exposed[0]!.api).sort()).toEqual(keys);
    expect(exposed[0]!.api.mediaBase).toBe(MEDIA_BASE);
    expect(`${exposed[0]!.api.mediaBase}${mediaPaths.thumbnail('ab'.repeat(32))}`).toBe(`curio://media/thumbs/${'ab'.repeat(32)}.webp`);
  });

  it('sends requests on IPC_CHANNEL and passes the reply through', async () => {
    const { exposed, invokes } = loadPreload();
    const reply = await exposed[0]!.api.invoke('datasets.list', { any: 1 });
    expect(invokes).toEqual([[IPC_CHANNEL, 'datasets.list', { any: 1 }]]);
    expect(reply).toEqual({ ok: true, result: 'answered' });
  });

  it('delivers events from IPC_EVENT_CHANNEL without the IPC event object, and unsubscribes', () => {
    const { exposed, emit, listeners } = loadPreload();
    const got: unknown[][] = [];
    const off = exposed[0]!.api.onEvent((name, payload) => got.push([name, payload]));
    expect([...listeners.keys()]).toEqual([IPC_EVENT_CHANNEL]);
    emit(IPC_EVENT_CHANNEL, { type: 'event', name: 'onDidLog', payload: { message: 'hi' } });
    emit(IPC_EVENT_CHANNEL, { type: 'response', id: 1 });
    emit(IPC_EVENT_CHANNEL, null);
    emit(IPC_CHANNEL, { type: 'event', name: 'onDidLog', payload: 'wrong channel' });
    expect(got).toEqual([['onDidLog', { message: 'hi' }]]);
    off();
    expect(listeners.get(IPC_EVENT_CHANNEL)!.size).toBe(0);
    emit(IPC_EVENT_CHANNEL, { type: 'event', name: 'onDidLog', payload: {} });
    expect(got).toHaveLength(1);
  });

  it('finds a dropped file\'s path with webUtils, and gives "" where it cannot', () => {
    const file = { name: 'folder' };
    expect(loadPreload().exposed[0]!.api.getPathForFile(file as unknown as File)).toBe('/dropped/folder');
    const failing = loadPreload({ getPathForFile: () => { throw new Error('not a File'); } });
    expect(failing.exposed[0]!.api.getPathForFile(file as unknown as File)).toBe('');
  });
});
