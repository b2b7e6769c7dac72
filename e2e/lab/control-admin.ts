/**
 * The admin API from inside the control host's namespace (the test process cannot reach it):
 * `control-admin.ts --url URL --email E --password P --requests FILE` signs in as that user
 * through the login pages and runs each request of FILE (a JSON array of
 * `{method, path, body?}`) in order, printing one JSON line: `[{status, body}, ...]`. It stops at
 * the first answer that is not 2xx.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { passwordLogin } from '../harness/control.js';
import { AdminRequest, type AdminResults } from './device-probes.js';
import { emit, usage } from './script-main.js';

const SYNOPSIS = 'control-admin.ts --url URL --email E --password P --requests FILE';
const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
    requests: { type: 'string' },
  },
  strict: true,
});
const url = values.url ?? usage('control-admin', '--url is required', SYNOPSIS);
const email = values.email ?? usage('control-admin', '--email is required', SYNOPSIS);
const password = values.password ?? usage('control-admin', '--password is required', SYNOPSIS);
const file = values.requests ?? usage('control-admin', '--requests is required', SYNOPSIS);
const requests = z.array(AdminRequest).parse(JSON.parse(readFileSync(file, 'utf8')));

const token = await passwordLogin(url, email, password);
const results: AdminResults = [];
for (const r of requests) {
  const res = await fetch(`${url}${r.path}`, {
    method: r.method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
  });
  const text = await res.text();
  results.push({ status: res.status, body: text ? (JSON.parse(text) as unknown) : null });
  if (res.status >= 300) break;
}
emit(results);
