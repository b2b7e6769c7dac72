// Where the Electron binary is, if it is installed. The `electron` npm package downloads the
// binary in its postinstall; with ELECTRON_SKIP_BINARY_DOWNLOAD=1 (or without internet access)
// the package is there but the binary is not, and requiring it throws. `npm start` and the
// Electron launch test use this to choose Electron or the web bridge, and to say which and why.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** @returns {{ found: true, path: string } | { found: false, reason: string }} */
export function findElectronBinary() {
  let binary;
  try {
    binary = require('electron');
  } catch (e) {
    return {
      found: false,
      reason: `the electron package has no binary (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  if (typeof binary !== 'string' || !fs.existsSync(binary)) {
    return { found: false, reason: `the Electron binary ${String(binary)} does not exist` };
  }
  return { found: true, path: binary };
}
