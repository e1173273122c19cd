/**
 * Query parameters that carry credentials in the signed and keyed URLs model stores hand out: AWS (X-Amz-*), Google
 * Cloud (X-Goog-*), Azure SAS (`sig`), CloudFront (Signature, Policy, Key-Pair-Id), and API keys or tokens.
 */
const CREDENTIAL_PARAM = /^(x-amz-.*|x-goog-.*|sig|signature|policy|key-pair-id|token|access_token|id_token|api_key|apikey|api-key|key|password|secret|auth|authorization)$/i;

/**
 * `source` with the values of credential query parameters replaced by `REDACTED`, for what is written down and shared
 * (graft.json, which the dashboard offers for download, and progress lines): a signed URL given as `--backbone` was
 * recorded whole. Anything that is not an http(s) URL, or has no such parameter, is returned as it is.
 * @example redactUrlCredentials('https://b.s3.amazonaws.com/m.onnx?X-Amz-Signature=abc') // '…?X-Amz-Signature=REDACTED'
 */
export function redactUrlCredentials(source: string): string {
  if (!/^https?:\/\//i.test(source) || !/[?@]/.test(source)) return source;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return source;
  }
  let changed = false;
  for (const name of [...url.searchParams.keys()]) {
    if (!CREDENTIAL_PARAM.test(name)) continue;
    url.searchParams.set(name, 'REDACTED');
    changed = true;
  }
  if (url.username || url.password) {
    url.username = url.username ? 'REDACTED' : '';
    url.password = url.password ? 'REDACTED' : '';
    changed = true;
  }
  return changed ? url.toString() : source;
}
