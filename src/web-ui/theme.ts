/** Light, dark, or like the system (prefers-color-scheme); remembered in localStorage. */
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'trellis.theme';

export function savedTheme(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(t: Theme): void {
  if (t === 'system') document.documentElement.removeAttribute('data-theme');
  else document.documentElement.setAttribute('data-theme', t);
  try {
    localStorage.setItem(KEY, t);
  } catch {
    // storage may be unavailable (private mode); the theme still applies for this session
  }
}
