import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraftError } from '../../src/core/errors.js';
import { CATALOGUE, CATALOGUE_NAMES, DEFAULT_BACKBONE, type CatalogueEntry } from '../../src/hub/catalogue.js';
import { applyMirror, configFilePath, mirrorsFromEnvironment, parseMirrorSpec, readMirrorConfig } from '../../src/hub/mirror.js';
import { tempDir } from '../support.js';

const zoo = 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx';
const hub = 'https://tfhub.dev/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1/model.json?tfjs-format=file';

describe('applyMirror', () => {
  it('leaves a URL alone without rules', () => {
    expect(applyMirror(zoo, [])).toEqual({ url: zoo });
  });

  it('maps a prefix to a base URL, the longest prefix winning', () => {
    const rules = [
      { prefix: 'https://github.com/', target: 'http://wrong/' },
      { prefix: 'https://github.com/onnx/models/raw/main/', target: 'http://127.0.0.1:9/zoo' },
    ];
    expect(applyMirror(zoo, rules)).toEqual({ url: 'http://127.0.0.1:9/zoo/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx' });
  });

  it('a bare base URL replaces scheme and host and keeps the query', () => {
    expect(applyMirror(hub, [{ target: 'http://127.0.0.1:9/hub/' }])).toEqual({
      url: 'http://127.0.0.1:9/hub/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1/model.json?tfjs-format=file',
    });
  });

  it('maps to a local directory: query dropped, path decoded, file:// accepted', () => {
    expect(applyMirror(hub, [{ target: '/srv/mirror' }])).toEqual({
      path: '/srv/mirror/google/tfjs-model/imagenet/mobilenet_v3_small_100_224/feature_vector/5/default/1/model.json',
    });
    expect(applyMirror('https://x.org/a%20b/m.onnx', [{ prefix: 'https://x.org/', target: 'file:///srv/m' }])).toEqual({ path: '/srv/m/a b/m.onnx' });
  });

  it('prefers a matching prefix over the bare rule and falls back to it otherwise', () => {
    const rules = [{ target: 'http://any/' }, { prefix: 'https://tfhub.dev/', target: '/srv/tfhub' }];
    expect(applyMirror(hub, rules)).toHaveProperty('path');
    expect(applyMirror(zoo, rules)).toEqual({ url: 'http://any/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx' });
  });

  it('refuses to leave a mirror directory', () => {
    const error = (() => {
      try {
        return applyMirror('https://x.org/m/%2e%2e/%2e%2e/etc/passwd', [{ prefix: 'https://x.org/m/', target: '/srv/m' }]);
      } catch (e) {
        return e;
      }
    })() as GraftError;
    expect(error).toBeInstanceOf(GraftError);
    expect(error.code).toBe('INVALID_CONFIG');
  });
});

describe('mirror configuration', () => {
  it('parses GRAFT_HUB_MIRROR rules and bare targets', () => {
    expect(parseMirrorSpec('https://tfhub.dev/=http://10.0.0.5/tfhub/, models', '/work')).toEqual([
      { prefix: 'https://tfhub.dev/', target: 'http://10.0.0.5/tfhub/' },
      { target: '/work/models' },
    ]);
    expect(parseMirrorSpec('http://127.0.0.1:8080')).toEqual([{ target: 'http://127.0.0.1:8080' }]);
  });

  it('reads the config file, env rules winning for the same prefix', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ mirrors: { 'https://tfhub.dev/': 'tfhub', 'https://github.com/': 'http://gh/', '*': '/srv/all' }, other: 1 }));
    expect(readMirrorConfig(file)).toEqual([
      { prefix: 'https://tfhub.dev/', target: join(dir, 'tfhub') },
      { prefix: 'https://github.com/', target: 'http://gh/' },
      { target: '/srv/all' },
    ]);
    const rules = mirrorsFromEnvironment({ GRAFT_CONFIG: file, GRAFT_HUB_MIRROR: 'https://tfhub.dev/=http://env/' });
    expect(rules).toEqual([
      { prefix: 'https://tfhub.dev/', target: 'http://env/' },
      { prefix: 'https://github.com/', target: 'http://gh/' },
      { target: '/srv/all' },
    ]);
    expect(readMirrorConfig(join(dir, 'missing.json'))).toEqual([]);
  });

  it('names the file when the config is broken', async () => {
    const file = join(await tempDir(), 'config.json');
    await writeFile(file, '{ "mirrors": ["x"] }');
    expect(() => readMirrorConfig(file)).toThrow(file);
    await writeFile(file, '{ not json');
    expect(() => readMirrorConfig(file)).toThrow(/not valid JSON/);
  });

  it('finds the config file from GRAFT_CONFIG, XDG_CONFIG_HOME or ~/.config', () => {
    expect(configFilePath({ GRAFT_CONFIG: '/etc/graft.json' })).toBe('/etc/graft.json');
    expect(configFilePath({ XDG_CONFIG_HOME: '/x' }, '/home/ada')).toBe('/x/graft/config.json');
    expect(configFilePath({}, '/home/ada')).toBe('/home/ada/.config/graft/config.json');
  });
});

describe('the catalogue', () => {
  it('covers the families users expect, with the default first and downloadable formats only as default', () => {
    expect(DEFAULT_BACKBONE).toBe('mobilenet_v2');
    expect(CATALOGUE[DEFAULT_BACKBONE].format).toBe('onnx');
    for (const family of ['mobilenet_v2', 'mobilenet_v3', 'efficientnet', 'resnet50', 'inception_v3']) {
      expect(CATALOGUE_NAMES.some((n) => n.startsWith(family))).toBe(true);
    }
    for (const name of CATALOGUE_NAMES) {
      const entry: CatalogueEntry = CATALOGUE[name];
      expect(entry.name).toBe(name);
      if (!entry.bundled) expect(entry.url).toMatch(/^https:\/\//);
      // No invented hashes: an entry without one says so.
      if (entry.sha256.length === 0 && !entry.bundled) expect(entry.checksum).toBe('unverified');
      if (entry.format === 'tfjs-graph') expect(entry.url).toContain('tfjs-format=file');
    }
  });
});
