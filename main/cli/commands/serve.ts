import { startServer } from '../../server/server.js';
import { createServices } from '../../services.js';
import { intFlag, parse } from '../args.js';
import { Output } from '../output.js';
import type { Command } from '../command.js';

export const serveCommand: Command = {
  name: 'serve',
  usage: 'curio serve [--host 127.0.0.1] [--port 0] [--db FILE] [--json]',
  summary: 'Run headless: the UI and the contract over a token-protected loopback HTTP/WebSocket server',
  async run(argv) {
    const { values } = parse(argv, { host: { type: 'string' }, port: { type: 'string' }, token: { type: 'string' } });
    const port = intFlag(values.port, 'port', 0, 0);
    const services = createServices({ dbPath: values.db, mode: 'browser' });
    const server = await startServer(services, {
      host: values.host ?? '127.0.0.1',
      port,
      ...(values.token ? { token: values.token } : {}),
    });
    const out = new Output(values.json);
    out.info(`Curio is serving ${services.catalog.path}`);
    out.info(`Open ${server.url}`);
    if (values.json) out.result({ url: server.url, port: server.port, token: server.token, db: services.catalog.path });
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    services.close();
    return 0;
  },
};
