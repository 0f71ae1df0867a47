import { describe, expect, it } from 'vitest';
import {
  NGINX_PATHS,
  renderBootstrapUpstream,
  renderNginxConfig,
  renderUpstream,
  type NginxSiteOptions,
} from '../nginx-config.ts';

const site: NginxSiteOptions = {
  stack: 'staging',
  domain: 'chat.example.com',
  httpsPort: 443,
  hsts: true,
  tls: { certificate: NGINX_PATHS.tlsCertificate, key: NGINX_PATHS.tlsKey },
  acme: false,
  edgeLimits: { requestsPerSecond: 50, burst: 200, connections: 100 },
};

/** The body of the `location <head> {` block of the HTTPS server. */
function locationBlock(conf: string, head: string): string {
  const start = conf.indexOf(`location ${head} {`, conf.indexOf('listen 443 ssl'));
  if (start < 0) throw new Error(`no location ${head}`);
  return conf.slice(start, conf.indexOf('\n        }', start));
}

function serverBlock(conf: string, listen: string): string {
  const start = conf.indexOf(`listen ${listen}`);
  if (start < 0) throw new Error(`no server listening on ${listen}`);
  return conf.slice(start, conf.indexOf('\n    }\n', start));
}

describe('the rendered nginx configuration', () => {
  const conf = renderNginxConfig(site);

  it('redirects plain HTTP to HTTPS, keeping host and path', () => {
    const http = serverBlock(conf, '80 default_server;');
    expect(http).toContain('return 301 https://$host$request_uri;');
    expect(http).not.toContain('proxy_pass');
  });

  it('admits document uploads up to KB_MAX_UPLOAD_BYTES (and the multipart framing) on their route only', () => {
    const uploads = locationBlock(conf, '~ ^/v1/knowledge-bases/[^/]+/documents$');
    expect(uploads).toContain('proxy_pass http://chatbot_app;');
    expect(uploads).toContain(`client_max_body_size ${20 * 1024 * 1024 + 64 * 1024};`);
    expect(conf).toContain('client_max_body_size 1m;');
    const small = renderNginxConfig({ ...site, uploadMaxBytes: 1_000_000 });
    expect(locationBlock(small, '~ ^/v1/knowledge-bases/[^/]+/documents$')).toContain(
      `client_max_body_size ${1_000_000 + 64 * 1024};`,
    );
  });

  it('edge limits in nginx: limits every /v1 location per client address, answering 429 in the API’s error shape', () => {
    const http = conf.slice(0, conf.indexOf('server {'));
    expect(http).toContain('limit_req_zone $binary_remote_addr zone=chatbot_edge_rate:10m rate=50r/s;');
    expect(http).toContain('limit_conn_zone $binary_remote_addr zone=chatbot_edge_conn:10m;');
    expect(http).toContain('limit_req_status 429;');
    expect(http).toContain('limit_conn_status 429;');
    for (const head of [
      '/v1/',
      '= /v1/chat/completions',
      '~ ^/v1/sessions/[^/]+/messages$',
      '~ ^/v1/knowledge-bases/[^/]+/documents$',
    ]) {
      const block = locationBlock(conf, head);
      expect(block, head).toContain('limit_req zone=chatbot_edge_rate burst=200 nodelay;');
      expect(block, head).toContain('limit_conn chatbot_edge_conn 100;');
    }
    // Health and the web UI are not limited.
    for (const head of ['= /health', '^~ /health/', '/']) {
      expect(locationBlock(conf, head), head).not.toContain('limit_');
    }
    const limited = locationBlock(conf, '@edge_limited');
    expect(limited).toContain('add_header Retry-After 1 always;');
    expect(limited).toContain('add_header X-Content-Type-Options "nosniff" always;');
    const body = /return 429 '(.*)';/.exec(limited)?.[1];
    expect(JSON.parse(body ?? '')).toMatchObject({ error: { code: 'rate_limited' } });
    expect(serverBlock(conf, '443 ssl')).toContain('error_page 429 @edge_limited;');
    // The app's own 429s (tenant limits) pass through as the app wrote them.
    expect(conf).not.toContain('proxy_intercept_errors');

    const other = renderNginxConfig({
      ...site,
      edgeLimits: { requestsPerSecond: 7, burst: 3, connections: 2 },
    });
    expect(other).toContain('rate=7r/s;');
    expect(locationBlock(other, '/v1/')).toContain('limit_req zone=chatbot_edge_rate burst=3 nodelay;');
    expect(locationBlock(other, '/v1/')).toContain('limit_conn chatbot_edge_conn 2;');
  });

  it('puts the published HTTPS port into the redirect when it is not 443', () => {
    const dev = renderNginxConfig({ ...site, httpsPort: 8443 });
    expect(dev).toContain('return 301 https://$host:8443$request_uri;');
  });

  it('terminates TLS 1.2/1.3 with the given certificate over HTTP/2', () => {
    const https = serverBlock(conf, '443 ssl');
    expect(https).toContain('http2 on;');
    expect(https).toContain(`ssl_certificate ${NGINX_PATHS.tlsCertificate};`);
    expect(https).toContain(`ssl_certificate_key ${NGINX_PATHS.tlsKey};`);
    expect(https).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
  });

  it('offers TLS 1.2 only forward-secret AEAD suites, in the server’s order (no CBC)', () => {
    const https = serverBlock(conf, '443 ssl');
    const ciphers = /ssl_ciphers (\S+);/.exec(https)?.[1]?.split(':') ?? [];
    expect(ciphers.length).toBeGreaterThan(0);
    for (const cipher of ciphers)
      expect(cipher).toMatch(/^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    expect(https).toContain('ssl_prefer_server_ciphers on;');
  });

  it('proxies /v1 and /health to the active color with keepalive and the client’s address', () => {
    for (const head of ['/v1/', '= /health', '^~ /health/']) {
      expect(locationBlock(conf, head)).toContain('proxy_pass http://chatbot_app;');
    }
    const https = serverBlock(conf, '443 ssl');
    expect(https).toContain('proxy_http_version 1.1;');
    expect(https).toContain('proxy_set_header Connection "";');
    expect(https).toContain('proxy_set_header Host $host;');
    expect(https).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    expect(https).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
  });

  it('streams message and completion replies unbuffered with a long read timeout', () => {
    for (const head of ['= /v1/chat/completions', '~ ^/v1/sessions/[^/]+/messages$']) {
      const loc = locationBlock(conf, head);
      expect(loc).toContain('proxy_pass http://chatbot_app;');
      expect(loc).toContain('proxy_buffering off;');
      expect(loc).toMatch(/proxy_read_timeout (\d+)s;/);
      expect(Number(/proxy_read_timeout (\d+)s;/.exec(loc)?.[1])).toBeGreaterThanOrEqual(120);
    }
    expect(/^\/v1\/sessions\/[^/]+\/messages$/.test('/v1/sessions/0b7c/messages')).toBe(true);
    expect(conf).not.toMatch(/gzip_types[^;]*event-stream/);
  });

  it('never routes /metrics to the app', () => {
    expect(locationBlock(conf, '^~ /metrics')).toContain('return 404;');
    expect(locationBlock(conf, '^~ /metrics')).not.toContain('proxy_pass');
  });

  it('retries on another replica only idempotent requests', () => {
    expect(conf).toContain('proxy_next_upstream error timeout;');
    expect(conf).not.toContain('non_idempotent');
  });

  it('limits request bodies to the API’s 1 MiB', () => {
    expect(conf).toContain('client_max_body_size 1m;');
  });

  it('compresses text responses', () => {
    expect(conf).toContain('gzip on;');
    expect(conf).toMatch(/gzip_types [^;]*application\/json/);
    expect(conf).toMatch(/gzip_types [^;]*application\/javascript/);
  });

  it('serves the web UI of the active color with an SPA fallback, index never cached', () => {
    const root = locationBlock(conf, '/');
    expect(root).toContain('try_files /$chatbot_color$uri /$chatbot_color/index.html =404;');
    expect(root).toContain('add_header Cache-Control "no-cache" always;');
    expect(conf).toContain(`root ${NGINX_PATHS.webRoot};`);
  });

  it('caches content-hashed assets for a year, from either color', () => {
    const assets = locationBlock(conf, '/assets/');
    expect(assets).toContain('max-age=31536000, immutable');
    expect(assets).toContain('try_files /$chatbot_color$uri /$chatbot_idle_color$uri =404;');
  });

  it('sends security headers, and HSTS only when asked', () => {
    for (const header of ['X-Content-Type-Options "nosniff"', 'Referrer-Policy', 'X-Frame-Options "DENY"']) {
      expect(conf).toContain(`add_header ${header}`);
    }
    expect(conf).toMatch(
      /Content-Security-Policy "default-src 'self'; script-src 'self';[^"]*frame-ancestors 'none'/,
    );
    expect(conf).toContain('Strict-Transport-Security');
    expect(renderNginxConfig({ ...site, hsts: false })).not.toContain('Strict-Transport-Security');
  });

  it('repeats the security headers where a location adds its own (nginx does not inherit them)', () => {
    for (const head of ['/assets/', '/']) {
      const loc = locationBlock(conf, head);
      expect(loc).toContain('X-Content-Type-Options');
      expect(loc).toContain('Strict-Transport-Security');
    }
  });

  it('in swarm mode, gives up connecting to a task within 2 s and tries 3 addresses (a node that went down answers nothing)', () => {
    const swarm = renderNginxConfig({ ...site, swarmApp: 'tasks.chatbot-app' });
    expect(swarm).toContain('proxy_connect_timeout 2s;');
    expect(swarm).toContain('proxy_next_upstream_tries 3;');
    // Two dead addresses in a row leave time for a live one.
    expect(swarm).toContain('proxy_next_upstream_timeout 10s;');
    expect(swarm).not.toContain('proxy_connect_timeout 5s;');
    expect(conf).toContain('proxy_connect_timeout 5s;');
  });

  it('serves ACME challenges over plain HTTP only when asked', () => {
    expect(conf).not.toContain('acme-challenge');
    const acme = renderNginxConfig({ ...site, acme: true });
    expect(serverBlock(acme, '80 default_server;')).toContain('location ^~ /.well-known/acme-challenge/ {');
  });

  it('tells on loopback only which upstream file the workers run', () => {
    const local = serverBlock(conf, '127.0.0.1:8081;');
    expect(local).toContain('return 200 $chatbot_generation;');
    expect(serverBlock(conf, '443 ssl')).not.toContain('chatbot_generation');
  });

  it('names no color and no app container: a switch needs no new nginx container', () => {
    expect(conf).not.toMatch(/blue|green|app-/);
    expect(conf).toContain(`include ${NGINX_PATHS.upstream};`);
  });
});

describe('the upstream file the color switch writes', () => {
  it('lists only the active color’s containers, with keepalive', () => {
    const up = renderUpstream({ color: 'green', servers: ['s-app-green-1:8000', 's-app-green-2:8000'] });
    expect(up).toContain('server s-app-green-1:8000');
    expect(up).toContain('server s-app-green-2:8000');
    expect(up).toMatch(/keepalive \d+;/);
    expect(up).toContain('map $host $chatbot_color { default green; }');
    expect(up).toContain('map $host $chatbot_idle_color { default blue; }');
    expect(up).not.toContain('app-blue');
    // The switch replaces the placeholder, then waits until the workers report it.
    expect(up).toContain('map $host $chatbot_generation { default __GENERATION__; }');
  });

  it('refuses a color without containers', () => {
    expect(() => renderUpstream({ color: 'blue', servers: [] })).toThrow(/no app containers/);
  });

  it('starts out routing nowhere until the first switch', () => {
    const boot = renderBootstrapUpstream();
    expect(boot).toContain('upstream chatbot_app');
    expect(boot).toContain('down;');
    expect(boot).toContain('map $host $chatbot_generation { default bootstrap; }');
    expect(boot).not.toMatch(/blue|green/);
  });
});
