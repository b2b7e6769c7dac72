/** Types of app-icon.mjs (packaging scripts are plain JavaScript, run without a build). */
export declare const APP_ICON_SIZES: readonly number[];
export declare function drawAppIcon(size: number): Uint8Array;
export declare function appIconPng(size: number): Buffer;
