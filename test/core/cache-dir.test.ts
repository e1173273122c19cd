import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../src/core/cache-dir.js';

describe('defaultCacheDir', () => {
  it('follows GRAFT_CACHE_DIR, then the platform convention', () => {
    expect(defaultCacheDir({ env: { GRAFT_CACHE_DIR: '/data/g' }, platform: 'linux', homeDir: '/h' })).toBe('/data/g');
    expect(defaultCacheDir({ env: {}, platform: 'linux', homeDir: '/h' })).toBe('/h/.cache/graft');
    expect(defaultCacheDir({ env: { XDG_CACHE_HOME: '/x' }, platform: 'linux', homeDir: '/h' })).toBe('/x/graft');
    expect(defaultCacheDir({ env: { XDG_CACHE_HOME: 'rel' }, platform: 'linux', homeDir: '/h' })).toBe('/h/.cache/graft');
    expect(defaultCacheDir({ env: {}, platform: 'darwin', homeDir: '/Users/a' })).toBe('/Users/a/Library/Caches/graft');
    expect(defaultCacheDir({ env: { LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, platform: 'win32', homeDir: 'C:\\Users\\a' })).toBe(
      'C:\\Users\\a\\AppData\\Local\\graft\\cache',
    );
  });

  it('reads no environment unless given one: GRAFT_CACHE_DIR is the CLI\'s to pass', () => {
    const saved = process.env.GRAFT_CACHE_DIR;
    process.env.GRAFT_CACHE_DIR = '/somewhere/else';
    try {
      expect(defaultCacheDir({ platform: 'linux' })).toBe(join(homedir(), '.cache', 'graft'));
    } finally {
      if (saved === undefined) delete process.env.GRAFT_CACHE_DIR;
      else process.env.GRAFT_CACHE_DIR = saved;
    }
  });
});
