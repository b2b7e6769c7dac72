/** The signed-in owner or admin, for the pages (which render only inside a session). */
import { createContext, useContext } from 'react';
import type { ConsoleSession } from '../../shared/schema/control/console.js';

export type SignedIn = Extract<ConsoleSession, { state: 'signed-in' }>;

export const SessionContext = createContext<SignedIn | null>(null);

export function useSession(): SignedIn {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a console session');
  return s;
}
