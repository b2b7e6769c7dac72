/** Types of dist.mjs (packaging scripts are plain JavaScript, run without a build). */
export type ElectronBinary = { ok: true; binary: string } | { ok: false; reason: string };
export declare function findElectronBinary(root?: string): ElectronBinary;
