/**
 * The web admin console at /admin, served by trellis-control itself: sign-in through control's
 * login pages into a cookie session (signin.ts, session-cookie.ts) and the built console app
 * (assets.ts), which then works through the admin API under /v1/admin.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlContext } from '../context.js';
import { registerConsoleAssets } from './assets.js';
import { registerConsoleSignIn } from './signin.js';

export { continueToConsole } from './signin.js';

export function registerConsole(app: FastifyInstance, ctx: ControlContext): void {
  registerConsoleSignIn(app, ctx);
  registerConsoleAssets(app);
}
