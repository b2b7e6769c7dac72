/** argon2id password hashing (OWASP's recommended parameters, the library's defaults). */
import { hash, verify } from '@node-rs/argon2';

/** argon2 hashes whatever it is given; bound the work an attacker can ask for per attempt. */
export const MAX_PASSWORD_LENGTH = 1024;

export const hashPassword = (password: string): Promise<string> => hash(password);

/**
 * Verifies in constant work whether or not the account exists: callers pass `null` for an
 * unknown user and we still run one verification against a dummy hash.
 */
export async function verifyPassword(phc: string | null, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const target = phc ?? (await dummyHash());
  try {
    const good = await verify(target, password);
    return phc !== null && good;
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;
const dummyHash = (): Promise<string> => (dummy ??= hash('trellis-dummy-password-for-timing'));
