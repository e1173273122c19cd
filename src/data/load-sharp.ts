import type { default as Sharp } from 'sharp';

let loading: Promise<typeof Sharp> | undefined;

/**
 * sharp, loaded on first use: a run whose features are all cached decodes no image, and loading sharp (libvips,
 * its version checks) was ~90 ms of a warm `graft train`'s start-up.
 */
export function loadSharp(): Promise<typeof Sharp> {
  loading ??= import('sharp').then((module) => module.default);
  return loading;
}
