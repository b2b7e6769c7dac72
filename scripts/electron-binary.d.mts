export type ElectronBinary =
  | { readonly found: true; readonly path: string }
  | { readonly found: false; readonly reason: string };
export function findElectronBinary(): ElectronBinary;
