import { describe, expect, it } from 'vitest';
import { proxySettings } from '../../src/cli/proxy-from-env.js';

describe('the proxy the environment names, read as curl and pip read it', () => {
  it('takes either case (the lower-case one first) and an address without a scheme as http://', () => {
    expect(proxySettings({})).toEqual({});
    expect(proxySettings({ HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: 'localhost,.corp' })).toEqual({ httpsProxy: 'http://proxy.corp:3128', noProxy: 'localhost,.corp' });
    expect(proxySettings({ http_proxy: 'http://a:1', HTTP_PROXY: 'http://b:2', https_proxy: 'https://c:3' })).toEqual({ httpProxy: 'http://a:1', httpsProxy: 'https://c:3' });
    // An empty variable is unset, as in curl.
    expect(proxySettings({ https_proxy: '', HTTPS_PROXY: 'http://b:2' })).toEqual({ httpsProxy: 'http://b:2' });
  });

  it('refuses what is no proxy address, naming the variable', () => {
    expect(() => proxySettings({ https_proxy: 'socks5://127.0.0.1:1080' })).toThrow(/https_proxy="socks5:\/\/127\.0\.0\.1:1080": Graft reaches a proxy over http:\/\/ or https:\/\/, not socks5/);
    expect(() => proxySettings({ HTTP_PROXY: 'http://[::1' })).toThrow(/HTTP_PROXY="http:\/\/\[::1" is not a proxy address/);
  });
});
