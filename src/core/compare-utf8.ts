/**
 * Compares strings as their UTF-8 bytes, the order SQLite's index gives: the same as comparing UTF-16 code units
 * except where a surrogate pair meets a character above U+DFFF, which only then costs a byte comparison. Listings
 * that must match a feature store's row order (a class folder's files) sort with it.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a.slice(i), 'utf8'), Buffer.from(b.slice(i), 'utf8'));
  }
  return a.length - b.length;
}
