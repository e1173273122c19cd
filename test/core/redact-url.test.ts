import { describe, expect, it } from 'vitest';
import { redactUrlCredentials } from '../../src/core/redact-url.js';
import { backboneRecord } from '../../src/recipes/train-manifest.js';
import type { BackboneInfo } from '../../src/engine/backbone.js';

describe('redactUrlCredentials', () => {
  it("replaces a signed URL's credentials, keeps what names the file", () => {
    expect(redactUrlCredentials('https://b.s3.amazonaws.com/m.onnx?X-Amz-Signature=SECRET123&X-Amz-Credential=AKIAEXAMPLE&v=2')).toBe(
      'https://b.s3.amazonaws.com/m.onnx?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&v=2',
    );
    expect(redactUrlCredentials('https://acct.blob.core.windows.net/c/m.onnx?sv=2022&sig=abc%2F')).toBe('https://acct.blob.core.windows.net/c/m.onnx?sv=2022&sig=REDACTED');
    expect(redactUrlCredentials('https://user:pass@host/m.onnx')).toBe('https://REDACTED:REDACTED@host/m.onnx');
    // Nothing secret: returned as it is, byte for byte.
    for (const same of ['https://tfhub.dev/google/x/1/model.json?tfjs-format=file', 'mobilenet_v2', '/models/m.onnx?sig=1', 'https://h/m.onnx']) expect(redactUrlCredentials(same)).toBe(same);
  });

  it('is what graft.json records of a backbone given by a signed URL (the query was written whole)', () => {
    const info = { name: 'm', source: 'http://127.0.0.1:1/x.onnx?X-Amz-Signature=SECRET123', format: 'onnx', sha256: 'a'.repeat(64), featureDim: 8, featureOutput: 'f' } as unknown as BackboneInfo;
    expect(JSON.stringify(backboneRecord(info))).not.toContain('SECRET123');
  });
});
