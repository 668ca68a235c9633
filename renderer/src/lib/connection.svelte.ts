import { api, type ConnectionState } from './api.js';

/** Whether the UI can reach main right now; the shell shows it so a dropped server is never silent. */
export class Connection {
  state = $state<ConnectionState>('connecting');
  detail = $state('');

  constructor() {
    api.onConnection((state, detail) => {
      this.state = state;
      this.detail = detail;
    });
  }
}

export const connection = new Connection();
