import { GraftError } from '../core/errors.js';

/** The proxy variables curl, pip, npm and Keras's `get_file` read; the lower-case one wins, as in curl. */
const PROXY_VARIABLES = [
  ['https_proxy', 'HTTPS_PROXY'],
  ['http_proxy', 'HTTP_PROXY'],
  ['no_proxy', 'NO_PROXY'],
] as const;

/** Host names of this machine, as URLs spell them, that are reached directly whatever NO_PROXY says. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

export interface ProxySettings {
  readonly httpsProxy?: string;
  readonly httpProxy?: string;
  readonly noProxy?: string;
}

/** What the environment says, each proxy as a URL (`proxy:3128` is `http://proxy:3128`, as curl and requests read it). */
export function proxySettings(env: NodeJS.ProcessEnv): ProxySettings {
  const [httpsProxy, httpProxy, noProxy] = PROXY_VARIABLES.map(([lower, upper]) => {
    const value = (env[lower] || env[upper])?.trim();
    return value ? { name: env[lower] ? lower : upper, value } : undefined;
  });
  const asUrl = (setting: { name: string; value: string } | undefined): string | undefined => {
    if (!setting) return undefined;
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(setting.value) ? setting.value : `http://${setting.value}`;
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new GraftError('INVALID_CONFIG', `${setting.name}=${JSON.stringify(setting.value)} is not a proxy address`, { hint: `set it to the proxy's URL, e.g. ${setting.name}=http://proxy.example.com:3128, or unset it` });
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new GraftError('INVALID_CONFIG', `${setting.name}=${JSON.stringify(setting.value)}: Graft reaches a proxy over http:// or https://, not ${protocol.slice(0, -1)}`, { hint: `set it to an http:// proxy, e.g. ${setting.name}=http://proxy.example.com:3128, or unset it` });
    }
    return url;
  };
  return {
    ...(httpsProxy ? { httpsProxy: asUrl(httpsProxy) } : {}),
    ...(httpProxy ? { httpProxy: asUrl(httpProxy) } : {}),
    ...(noProxy ? { noProxy: noProxy.value } : {}),
  };
}

/**
 * Sends the command's HTTP requests (backbone downloads, `graft predict <url>`) through the proxy that
 * HTTPS_PROXY / HTTP_PROXY name, except to the hosts NO_PROXY lists and this machine's own (localhost, 127.0.0.1,
 * [::1]), as curl, pip and Keras's `get_file` do: Node's
 * own fetch ignores these variables, so behind a company proxy every download failed. undici (the library Node's
 * fetch is built on) loads only when a proxy is set. A library user sets a dispatcher of their own instead
 * (README, "Behind a proxy").
 * @returns when a proxy is in use, what ends its connections once the command is done: a proxy that never answers
 * a tunnel request holds its socket open after the request gave up (`graft predict`'s 30 s), and the process with it.
 * @throws GraftError INVALID_CONFIG for a value that is no proxy address, naming the variable.
 */
export async function useProxyFromEnvironment(env: NodeJS.ProcessEnv): Promise<(() => Promise<void>) | undefined> {
  const settings = proxySettings(env);
  if (!settings.httpsProxy && !settings.httpProxy) return undefined;
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici');
  // Its constructor announces itself as experimental on stderr once per process: noise in every proxied command
  // (and not JSON under --log json). The agent is what undici's own docs give for exactly this job.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  let agent: InstanceType<typeof EnvHttpProxyAgent>;
  // This machine's own addresses never go through the proxy (as in Go's net/http): a proxy cannot reach them.
  const noProxy = [settings.noProxy, ...LOOPBACK].filter(Boolean).join(',');
  // An http:// URL goes to an http:// proxy as a plain request naming the whole URL, as curl and pip send it, not through
  // a CONNECT tunnel: squid's default configuration refuses CONNECT to any port but 443. (undici's option; its types
  // name it on ProxyAgent only, to which EnvHttpProxyAgent passes its options.)
  const options: ConstructorParameters<typeof EnvHttpProxyAgent>[0] & { proxyTunnel: boolean } = {
    httpProxy: settings.httpProxy,
    httpsProxy: settings.httpsProxy ?? settings.httpProxy,
    noProxy,
    proxyTunnel: false,
  };
  try {
    agent = new EnvHttpProxyAgent(options);
  } finally {
    process.emitWarning = emitWarning;
  }
  setGlobalDispatcher(agent);
  return () => agent.destroy();
}
