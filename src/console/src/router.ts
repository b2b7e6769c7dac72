/**
 * The console's pages as paths under /admin (so they can be bookmarked and opened in new tabs):
 * plain links, turned into history navigation without a reload.
 */
import { useCallback, useEffect, useState } from 'react';
import { CONSOLE_PATH } from '../../shared/schema/control/console.js';

export const PAGES = [
  { id: 'devices', title: 'Devices' },
  { id: 'routes', title: 'Routes' },
  { id: 'users', title: 'Users' },
  { id: 'keys', title: 'Keys' },
  { id: 'policy', title: 'Access policy' },
  { id: 'settings', title: 'DNS & settings' },
  { id: 'audit', title: 'Audit log' },
] as const;
export type PageId = (typeof PAGES)[number]['id'];

/** The page a path shows: /admin is the device list; null for anything unknown. */
export function pageOfPath(pathname: string): PageId | null {
  const rest = pathname.startsWith(CONSOLE_PATH) ? pathname.slice(CONSOLE_PATH.length) : null;
  if (rest === null) return null;
  if (rest === '' || rest === '/') return 'devices';
  const id = rest.replace(/^\//, '');
  return PAGES.find((p) => p.id === id)?.id ?? null;
}

export const pathOfPage = (id: PageId): string => `${CONSOLE_PATH}/${id}`;

/** The current page and a navigate function; follows the back and forward buttons. */
export function usePage(): [PageId | null, (id: PageId) => void] {
  const [page, setPage] = useState(() => pageOfPath(window.location.pathname));
  useEffect(() => {
    const onPop = () => setPage(pageOfPath(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((id: PageId) => {
    window.history.pushState(null, '', pathOfPage(id));
    setPage(id);
  }, []);
  return [page, navigate];
}
