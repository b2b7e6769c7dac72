export {
  DEFAULT_BURST,
  DEFAULT_MAX_TRACKED_SOURCES,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RATE_PER_SECOND,
  type RateLimitConfig,
  SourceRateLimiter,
} from './rate-limiter.js';
export { type StunVerdict, respondToDatagram } from './respond.js';
export {
  DEFAULT_SOFTWARE,
  type StunServer,
  type StunServerCounters,
  type StunServerLogger,
  type StunServerOptions,
  startStunServer,
} from './server.js';
