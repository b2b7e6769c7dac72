import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpControlAuth, MAX_AUTH_RESPONSE_BYTES } from './control-auth.js';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function control(handler: Handler): Promise<string> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}
const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('httpControlAuth', () => {
  it('starts a login session and polls it with the declared schemas', async () => {
    const seen: string[] = [];
    const url = await control((req, body, res) => {
      seen.push(`${req.method} ${req.url} ${body}`);
      if (req.url === '/v1/login') {
        return json(res, 201, {
          url: 'http://127.0.0.1/login/tr_login_x',
          pollToken: 'tr_poll_0123456789abcdef',
          expiresAt: '2099-01-01T00:00:00.000Z',
        });
      }
      json(res, 200, { status: 'pending' });
    });
    const api = httpControlAuth();
    const start = await api.loginStart(url, 'Trellis desktop', 'laptop');
    expect(start.ok && start.value.pollToken).toBe('tr_poll_0123456789abcdef');
    const poll = await api.loginPoll(url, 'tr_poll_0123456789abcdef');
    expect(poll.ok && poll.value).toEqual({ status: 'pending' });
    expect(seen).toEqual([
      'POST /v1/login {"clientName":"Trellis desktop","hostname":"laptop"}',
      'POST /v1/login/poll {"pollToken":"tr_poll_0123456789abcdef"}',
    ]);
  });

  it('passes control typed errors on and refuses malformed or oversized answers', async () => {
    const url = await control((req, _b, res) => {
      if (req.url === '/v1/me')
        return json(res, 401, { error: { code: 'unauthorized', message: 'session expired' } });
      if (req.url === '/v1/login')
        return json(res, 201, { url: 'javascript:alert(1)', pollToken: 'short' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'pending', pad: 'x'.repeat(MAX_AUTH_RESPONSE_BYTES) }));
    });
    const api = httpControlAuth();
    const me = await api.whoAmI(url, 'tr_sess_0123456789abcdef');
    expect(!me.ok && me.error).toEqual({ code: 'unauthorized', message: 'session expired' });
    const bad = await api.loginStart(url, 'x');
    expect(!bad.ok && bad.error.code).toBe('invalid_response');
    const big = await api.loginPoll(url, 'tr_poll_0123456789abcdef');
    expect(!big.ok && big.error.code).toBe('invalid_response');
  });

  it('sends the session as a bearer token to end it', async () => {
    let auth = '';
    const url = await control((req, _b, res) => {
      auth = req.headers.authorization ?? '';
      res.writeHead(204).end();
    });
    const r = await httpControlAuth().endSession(url, 'tr_sess_0123456789abcdef');
    expect(r.ok).toBe(true);
    expect(auth).toBe('Bearer tr_sess_0123456789abcdef');
  });

  it('reports an unreachable control as a network error', async () => {
    const url = await control(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
    const r = await httpControlAuth().loginStart(url, 'x');
    expect(!r.ok && r.error.code).toBe('network');
  });
});
