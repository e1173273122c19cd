/**
 * A redirect's `Location` written relative to the request's own path: `/` to `/dashboard/` is `dashboard/`,
 * `/dashboard/?token=...` to `/dashboard/` is `./`. The browser resolves it against the URL it asked for, so a server
 * that a reverse proxy publishes under a path (`https://host/graft/` → `http://127.0.0.1:8080/`) sends the browser
 * to `https://host/graft/dashboard/`, where an absolute `/dashboard/` would leave the prefix.
 * @param from the request's path (no query), as the server received it
 * @param to the path to go to (no query), absolute on this server
 */
export function relativeLocation(from: string, to: string): string {
  const fromFolders = from.split('/').slice(1, -1);
  const toParts = to.split('/').slice(1);
  let shared = 0;
  while (shared < fromFolders.length && shared < toParts.length - 1 && fromFolders[shared] === toParts[shared]) shared++;
  const path = '../'.repeat(fromFolders.length - shared) + toParts.slice(shared).join('/');
  // An empty path would mean "this very URL"; a first segment with a colon would read as a scheme ("a:b" → a:).
  return path === '' || /^[^/]*:/.test(path) ? `./${path}` : path;
}
