/**
 * The fan-out floor: a bare WebSocket server that, when one client sends a change, sends one
 * pre-serialized message of the same shape to every other client. Trellis's propagation time is
 * reported as a ratio against this, measured in the same run on the same machine.
 */
import { WebSocketServer, type WebSocket } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const clients = new Set<WebSocket>();
let seq = 0;
wss.on('connection', (ws) => {
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as {
      type: string;
      endpoints?: { addr: string; type: string }[];
    };
    if (msg.type !== 'update' || !msg.endpoints) return;
    const text = JSON.stringify({
      type: 'delta',
      seq: ++seq,
      patch: { peersPatched: [{ id: 'dev', endpoints: msg.endpoints }] },
    });
    for (const c of clients) if (c !== ws) c.send(text);
  });
});
wss.on('listening', () => {
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(
    `BENCH ${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`,
  );
});
process.on('SIGTERM', () => process.exit(0));
