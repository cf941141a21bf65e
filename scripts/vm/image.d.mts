// Types of image.mjs for the TypeScript tests.
export type ImageInputs = { base: string; baseName: string; store: string; npm: string; overlay: string };
export declare const IMAGE_CACHE: string;
export declare function baseImageOf(dockerfile: string): { name: string; major: string };
export declare function prepareImageInputs(dockerfile?: string): ImageInputs;
export declare function imageGuestScript(inputs: ImageInputs, o?: { tag?: string; stopTimeout?: number }): string;
/** A Debian minbase rootfs directory with python3-minimal and no Node (cached in .cache/image). */
export declare function pythonRootfs(): string;
