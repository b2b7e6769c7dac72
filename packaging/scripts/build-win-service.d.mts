/** Types of build-win-service.mjs (packaging scripts are plain JavaScript, run without a build). */
export declare const WIN_SERVICE_SOURCE: string;
export declare const WIN_SERVICE_EXE: string;
export declare const DEFAULT_WIN_CC: string;
export declare function winServiceCompileArgs(source?: string, out?: string): string[];
export type WinServiceBuild = { ok: true; out: string } | { ok: false; error: string };
export declare function buildWinService(options?: {
  cc?: string;
  source?: string;
  out?: string;
}): WinServiceBuild;
