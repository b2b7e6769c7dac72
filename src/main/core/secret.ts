/**
 * A secret string that refuses to be printed: String(), JSON.stringify and util.inspect (hence
 * console.log and pino) all show "[redacted]". Only `reveal()` gives the value, so every place
 * that sends a session token somewhere is explicit and greppable.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
