// Fuzzes the headless transport end to end: contract payloads for every request inside well-formed frames,
// malformed frames, JSON that is not a frame, text that is not JSON and binary frames, all over the real
// WebSocket of startServer. Every frame gets exactly one well-formed response, the server keeps serving, and
// the catalog comes out intact.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, type EventName } from '../../../shared/contract/index.js';
import { WS_PATH } from '../../../shared/wire.js';
import { startServer, type RunningServer } from '../../../main/server/server.js';
import { mulberry32 } from '../../../main/common/random.js';
import { replyProblem } from '../rpc/reply-check.js';
import { integrityProblems, makeTempDir, seededServices, settleJobs, snapshotDataset, type SeededServices } from '../rpc/fixtures.js';
import { PayloadFuzzer } from '../rpc/fuzz-payloads.js';
import { FrameReader } from './ws-client.js';

const SEED = Number(process.env.CURIO_FUZZ_SEED ?? 7_031_977);
const CASES = 1_500;
const TOKEN = 'f'.repeat(40);
const MAX_PAYLOAD = 1 << 20;

type Outgoing = { data: string | Buffer; binary: boolean; expectId: number; method: unknown; kind: string };

describe('WebSocket transport fuzz', () => {
  let seeded: SeededServices;
  let server: RunningServer;
  const cwd = process.cwd();
  let sandbox = '';

  beforeAll(async () => {
    seeded = await seededServices('ws-fuzz', 6, 8);
    server = await startServer(seeded.services, { port: 0, token: TOKEN, rendererDir: makeTempDir('ws-fuzz-renderer') });
    sandbox = path.join(makeTempDir('ws-fuzz-cwd'), 'a', 'b', 'c');
    fs.mkdirSync(sandbox, { recursive: true });
    process.chdir(sandbox);
  });

  afterAll(async () => {
    process.chdir(cwd);
    await server?.close();
    seeded?.cleanup();
    fs.rmSync(path.resolve(sandbox, '../../..'), { recursive: true, force: true });
  });

  const url = () => `ws://127.0.0.1:${server.port}${WS_PATH}?token=${TOKEN}`;

  it(`answers ${CASES} hostile frames with one well-formed response each (seed ${SEED})`, async () => {
    const { services, datasetId, dbPath } = seeded;
    const before = snapshotDataset(services, datasetId);
    const fuzz = new PayloadFuzzer(SEED, { exotic: false, maxString: 100_000 }, {
      readIds: [datasetId, seeded.fillerIds[0]!, ...before.images.items.map((i) => i.id)],
      deletableIds: seeded.fillerIds,
      readDatasets: ['seed', 'filler-1'],
      folders: [seeded.imagesDir],
    });
    const rand = mulberry32(SEED ^ 0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

    const frameFor = (i: number): Outgoing => {
      const id = 1_000_000 + i;
      const r = rand();
      if (r < 0.6) {
        const { method, params } = fuzz.case(i);
        return { data: JSON.stringify({ type: 'request', id, method, params }), binary: false, expectId: id, method, kind: 'request' };
      }
      if (r < 0.72) {
        // Frames that are nearly right: bad ids, wrong type, missing or oversized fields.
        const { method, params } = fuzz.case(i);
        const variants: [string, number][] = [
          [`{"type":"request","id":1e400,"method":"app.info","params":{}}`, -1],
          [JSON.stringify({ type: 'request', id: -5, method, params }), -1],
          [JSON.stringify({ type: 'request', id: 1.5, method, params }), -1],
          [JSON.stringify({ type: 'request', id: String(id), method, params }), -1],
          [JSON.stringify({ type: 'request', id: 2 ** 53 + 2, method, params }), -1],
          [JSON.stringify({ type: 'request', method, params }), -1],
          [JSON.stringify({ type: 'response', id, ok: true, result: {} }), id],
          [JSON.stringify({ type: 'event', id, name: 'onDidLog', payload: {} }), id],
          [JSON.stringify({ id, method, params }), id],
          [JSON.stringify({ type: 'request', id, method: 42, params }), id],
          [JSON.stringify({ type: 'request', id, method: 'm'.repeat(201), params }), id],
          [`{"__proto__":{"type":"request"},"id":${id},"method":"app.info"}`, id],
          [`{"type":"request","id":${id},"method":"app.info","params":{},"type":"response"}`, id],
        ];
        const [data, expectId] = pick(variants);
        return { data, binary: false, expectId, method: null, kind: 'malformed-frame' };
      }
      if (r < 0.8) {
        return { data: JSON.stringify(fuzz.value(0) ?? null), binary: false, expectId: -1, method: null, kind: 'json-not-frame' };
      }
      if (r < 0.9) {
        const text = pick([
          () => '',
          () => '{',
          () => 'undefined',
          () => 'NaN',
          () => '{"type":"request","id":1,',
          () => JSON.stringify({ type: 'request', id, method: 'app.info', params: {} }).slice(0, 1 + Math.floor(rand() * 40)),
          () => Array.from({ length: 1 + Math.floor(rand() * 200) }, () => String.fromCharCode(Math.floor(rand() * 0xd7ff))).join(''),
          () => '\u0000'.repeat(100),
          () => 'x'.repeat(500_000),
        ])();
        return { data: text, binary: false, expectId: -1, method: null, kind: 'not-json' };
      }
      const bytes = pick([
        () => Buffer.from(Array.from({ length: Math.floor(rand() * 512) }, () => Math.floor(rand() * 256))),
        () => Buffer.from(JSON.stringify({ type: 'request', id, method: 'app.info', params: {} })),
        () => Buffer.alloc(0),
      ])();
      return { data: bytes, binary: true, expectId: -1, method: null, kind: 'binary' };
    };

    let client = await FrameReader.connect(url());
    const problems: string[] = [];
    const kinds = new Map<string, number>();
    let oversize = 0;
    let okReplies = 0;
    let eventsSeen = 0;
    const nextResponse = async (): Promise<unknown> => {
      for (;;) {
        const frame = await client.next();
        if (frame && typeof frame === 'object' && (frame as { type?: unknown }).type === 'event') {
          const ev = frame as { name: string; payload: unknown };
          eventsSeen++;
          const schema = events[ev.name as EventName];
          if (!schema || !schema.safeParse(ev.payload).success) problems.push(`bad event frame ${JSON.stringify(frame).slice(0, 200)}`);
          continue;
        }
        return frame;
      }
    };

    for (let i = 0; i < CASES; i++) {
      const out = frameFor(i);
      kinds.set(out.kind, (kinds.get(out.kind) ?? 0) + 1);
      const size = typeof out.data === 'string' ? Buffer.byteLength(out.data) : out.data.length;
      if (size > MAX_PAYLOAD) {
        // Over the server's frame limit: it closes this connection (1009) and goes on serving new ones.
        client.ws.send(out.data, { binary: out.binary });
        await expect(client.next()).rejects.toThrow(/socket closed \(1009/);
        oversize++;
        client = await FrameReader.connect(url());
        continue;
      }
      client.ws.send(out.data, { binary: out.binary });
      let frame: unknown;
      try {
        frame = await nextResponse();
      } catch (err) {
        problems.push(`case ${i} (${out.kind}): ${(err as Error).message}`);
        client = await FrameReader.connect(url());
        continue;
      }
      const f = frame as { type?: unknown; id?: unknown; ok?: unknown; result?: unknown; error?: unknown };
      if (!f || typeof f !== 'object' || f.type !== 'response') {
        problems.push(`case ${i} (${out.kind}): not a response frame: ${JSON.stringify(frame).slice(0, 200)}`);
        continue;
      }
      if (f.id !== out.expectId) problems.push(`case ${i} (${out.kind}): reply id ${String(f.id)}, expected ${out.expectId}`);
      const reply = f.ok === true ? { ok: true, result: f.result } : { ok: f.ok, error: f.error };
      const problem = out.kind === 'request' ? replyProblem(out.method, reply) : f.ok === false ? replyProblem(null, reply) : 'a malformed frame was answered ok';
      if (problem) problems.push(`case ${i} (${out.kind}): ${problem}`);
      if (f.ok === true) {
        okReplies++;
        const jobId = (f.result as { jobId?: unknown } | null)?.jobId;
        if (typeof jobId === 'string') {
          client.ws.send(JSON.stringify({ type: 'request', id: 1, method: 'jobs.cancel', params: { jobId } }));
          await nextResponse();
        }
      }
    }
    await client.close();
    await settleJobs(services);

    expect(problems.slice(0, 30), `seed ${SEED}`).toEqual([]);
    expect(okReplies).toBeGreaterThan(50);
    for (const kind of ['request', 'malformed-frame', 'json-not-frame', 'not-json', 'binary']) expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(20);

    // The server is still up and answers on a new connection; the catalog came through intact.
    const after = await FrameReader.connect(url());
    after.ws.send(JSON.stringify({ type: 'request', id: 5, method: 'datasets.get', params: { datasetId } }));
    expect(await after.nextResponse()).toMatchObject({ type: 'response', id: 5, ok: true, result: { id: datasetId, name: 'seed' } });
    await after.close();
    expect(integrityProblems(dbPath)).toEqual([]);
    expect(snapshotDataset(services, datasetId)).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    console.info(`ws fuzz seed ${SEED}: ${CASES} frames ${JSON.stringify(Object.fromEntries(kinds))}, ${okReplies} ok replies, ${oversize} over the frame limit, ${eventsSeen} events`);
  });

  it('closes a connection that sends an oversized frame or invalid UTF-8, and keeps serving others', async () => {
    const bystander = await FrameReader.connect(url());
    const big = await FrameReader.connect(url());
    big.ws.send(JSON.stringify({ type: 'request', id: 1, method: 'app.info', params: { pad: 'x'.repeat(MAX_PAYLOAD) } }));
    await expect(big.next()).rejects.toThrow(/socket closed \(1009/);

    const badUtf8 = await FrameReader.connect(url());
    badUtf8.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    await expect(badUtf8.next()).rejects.toThrow(/socket closed \(1007/);

    bystander.ws.send(JSON.stringify({ type: 'request', id: 9, method: 'app.info', params: {} }));
    expect(await bystander.nextResponse()).toMatchObject({ type: 'response', id: 9, ok: true });
    await bystander.close();
  });
});
