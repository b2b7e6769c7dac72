/**
 * Security headers of the admin console. The pages load only this server's own scripts, styles
 * and API (no inline script or style, no other origin), cannot be framed, and keep URLs out of
 * Referer headers.
 */
import type { FastifyReply } from 'fastify';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers every console response carries, whatever its type. */
function common(reply: FastifyReply): FastifyReply {
  return reply
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-resource-policy', 'same-origin');
}

/** An HTML document of the console: CSP, no framing, never cached (it names the build's assets). */
export function documentHeaders(reply: FastifyReply): FastifyReply {
  return common(reply)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('permissions-policy', 'camera=(), microphone=(), geolocation=(), clipboard-read=()')
    .header('cache-control', 'no-store');
}

/** A built asset: content-hashed names, so it may be cached for good. */
export function assetHeaders(reply: FastifyReply): FastifyReply {
  return common(reply).header('cache-control', 'public, max-age=31536000, immutable');
}

/** JSON and redirects of the console's own endpoints: private, never cached. */
export function privateHeaders(reply: FastifyReply): FastifyReply {
  return common(reply).header('cache-control', 'no-store');
}
