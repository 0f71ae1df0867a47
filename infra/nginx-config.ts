// nginx's configuration, rendered by pure functions: the main file (uploaded when the nginx
// container is created; it never names a color) and the small upstream file that the color
// switch writes into the running container before `nginx -s reload`. With orchestrator swarm
// there are no colors and no switch: the main file names the app service's tasks, which nginx
// resolves through Swarm's DNS as they come and go.
import type { Color, EdgeLimits } from './config.ts';

/** Paths inside the nginx container. */
export const NGINX_PATHS = {
  config: '/etc/nginx/nginx.conf',
  upstream: '/etc/nginx/chatbot-upstream.conf',
  tlsCertificate: '/etc/nginx/chatbot-tls.crt',
  tlsKey: '/etc/nginx/chatbot-tls.key',
  /** The colors' web volumes are mounted at <webRoot>/blue and <webRoot>/green. */
  webRoot: '/srv/web',
  acmeRoot: '/srv/acme',
} as const;

/** A listener on the container's loopback for its healthcheck; never published. */
export const NGINX_HEALTH_URL = 'http://127.0.0.1:8081/nginx-health';
/** The same listener tells which upstream file the workers have loaded. */
export const NGINX_GENERATION_URL = 'http://127.0.0.1:8081/nginx-generation';
/** In the upstream file, replaced by the switch with a value of its own before the reload. */
export const GENERATION_PLACEHOLDER = '__GENERATION__';

/** The body limit of the API (API.md: 1 MiB). */
export const CLIENT_MAX_BODY_SIZE = '1m';

/** Document uploads (multipart) may carry KB_MAX_UPLOAD_BYTES of file: the service's default. */
export const DEFAULT_UPLOAD_MAX_BYTES = 20 * 1024 * 1024;
/** Room for the multipart framing around the file. */
const MULTIPART_ALLOWANCE_BYTES = 64 * 1024;

export interface NginxSiteOptions {
  /** Stack name, for the header comment only. */
  stack: string;
  domain: string;
  /** The published HTTPS port the redirect points at; 443 or 0 (unknown) leave it out. */
  httpsPort: number;
  hsts: boolean;
  /** Certificate chain and key paths inside the container. */
  tls: { certificate: string; key: string };
  /** Serve /.well-known/acme-challenge/ from NGINX_PATHS.acmeRoot over plain HTTP. */
  acme: boolean;
  /** The largest document upload the service takes (KB_MAX_UPLOAD_BYTES). */
  uploadMaxBytes?: number;
  /** Per client address on /v1: requests a second and their burst, requests open at once. */
  edgeLimits: EdgeLimits;
  /**
   * orchestrator swarm: the app's tasks as Swarm's DNS names them (`tasks.<service>:<port>`,
   * endpoint mode dnsrr: one address per running task), resolved again once an answer is
   * SWARM_DNS_VALID old. Undefined: the color switch's upstream file (orchestrator host).
   */
  swarmApp?: string;
}

/** Docker's DNS server, inside every container on a user-defined or overlay network. */
export const DOCKER_DNS = '127.0.0.11';
/** How long nginx keeps an answer about the app's tasks: new tasks get traffic this soon. */
export const SWARM_DNS_VALID = '1s';

export interface UpstreamOptions {
  color: Color;
  /** host:port of every app container of the color. */
  servers: string[];
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(hsts: boolean): string[] {
  return [
    ...(hsts ? ['add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'] : []),
    'add_header X-Content-Type-Options "nosniff" always;',
    'add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
    'add_header X-Frame-Options "DENY" always;',
    `add_header Content-Security-Policy "${CSP}" always;`,
    'add_header Permissions-Policy "camera=(), microphone=(), geolocation=()" always;',
  ];
}

/** TLS 1.2 cipher suites: Mozilla's "intermediate" list (forward-secret AEAD) without DHE, in its order. */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** How every request reaches the active color's app containers (server level; the API
 * locations inherit it). Retries go to another replica only for idempotent requests: nginx
 * never retries POST/PATCH unless `non_idempotent` is listed, and it is not. */
const PROXY_DEFAULTS = [
  'proxy_http_version 1.1;',
  'proxy_set_header Connection "";',
  'proxy_set_header Host $host;',
  // nginx is the edge: the client address is the connection's, never what the client claims.
  'proxy_set_header X-Forwarded-For $remote_addr;',
  'proxy_set_header X-Real-IP $remote_addr;',
  'proxy_set_header X-Forwarded-Proto $scheme;',
  'proxy_set_header X-Forwarded-Host $host;',
  'proxy_set_header X-Request-Id $request_id;',
  'proxy_hide_header X-Powered-By;',
  'proxy_connect_timeout 5s;',
  'proxy_send_timeout 60s;',
  'proxy_read_timeout 60s;',
  'proxy_next_upstream error timeout;',
  'proxy_next_upstream_tries 2;',
  'proxy_next_upstream_timeout 10s;',
];

/**
 * Swarm: one try more, for scale-downs that stop several tasks within one DNS answer's life
 * (a connection refused by a stopping task was never sent, so any method moves on); and a
 * shorter connect timeout, since a task on a node that went down answers nothing at all: with
 * 5 s, two such addresses in a row spent the whole proxy_next_upstream_timeout (504) before
 * the live one was tried (test/swarm.docker.test.ts, the killed worker). A connect within the
 * swarm's network takes milliseconds.
 */
function proxyDefaults(swarm: boolean): string[] {
  if (!swarm) return PROXY_DEFAULTS;
  return PROXY_DEFAULTS.map((l) =>
    l
      .replace(/^proxy_next_upstream_tries \d+;$/, 'proxy_next_upstream_tries 3;')
      .replace(/^proxy_connect_timeout \d+s;$/, 'proxy_connect_timeout 2s;'),
  );
}

const TO_APP = 'proxy_pass http://chatbot_app;';
/** Swarm: the variable makes nginx resolve the name per request (through `resolver`), each
 * address a server it may retry on; the request URI passes unchanged, as with TO_APP. */
const TO_SWARM_APP = 'proxy_pass http://$chatbot_app;';

/** Zones of the per-address limits on /v1 (the http level declares them). */
const EDGE_RATE_ZONE = 'chatbot_edge_rate';
const EDGE_CONN_ZONE = 'chatbot_edge_conn';
/** Where a request over the edge limits is answered: API.md's error shape, in nginx. */
const EDGE_LIMITED = '@edge_limited';

/** Every /v1 location: per client address, the rate (with its burst) and the requests open. */
function edgeLimited(limits: EdgeLimits, lines: string[]): string[] {
  return [
    ...lines,
    `limit_req zone=${EDGE_RATE_ZONE} burst=${limits.burst} nodelay;`,
    `limit_conn ${EDGE_CONN_ZONE} ${limits.connections};`,
  ];
}

/** Server-sent events: every byte goes to the client as the app writes it, and the read
 * timeout is above the model's (LLM_TIMEOUT_MS between bytes). */
function streaming(toApp: string): string[] {
  return [
    toApp,
    'proxy_buffering off;',
    'proxy_cache off;',
    'proxy_read_timeout 300s;',
    'proxy_send_timeout 300s;',
  ];
}

function indent(lines: string[]): string[] {
  return lines.flatMap((l) => l.split('\n')).map((l) => (l === '' ? '' : `    ${l}`));
}

function block(head: string, lines: string[]): string {
  return [`${head} {`, ...indent(lines), '}'].join('\n');
}

function location(head: string, lines: string[]): string {
  return block(`location ${head}`, lines);
}

/** The main configuration: the same for both colors, so a switch never replaces nginx. */
export function renderNginxConfig(o: NginxSiteOptions): string {
  const port = o.httpsPort === 443 || o.httpsPort === 0 ? '' : `:${o.httpsPort}`;
  const headers = securityHeaders(o.hsts);
  const swarm = o.swarmApp !== undefined;
  const toApp = swarm ? TO_SWARM_APP : TO_APP;
  const stream = streaming(toApp);

  const httpServer = [
    'listen 80 default_server;',
    `server_name ${o.domain};`,
    '',
    ...(o.acme
      ? [
          location('^~ /.well-known/acme-challenge/', [
            `root ${NGINX_PATHS.acmeRoot};`,
            'default_type text/plain;',
          ]),
          '',
        ]
      : []),
    location('/', [`return 301 https://$host${port}$request_uri;`]),
  ];

  const httpsServer = [
    'listen 443 ssl default_server;',
    'http2 on;',
    `server_name ${o.domain};`,
    '',
    `ssl_certificate ${o.tls.certificate};`,
    `ssl_certificate_key ${o.tls.key};`,
    'ssl_protocols TLSv1.2 TLSv1.3;',
    // TLS 1.2: forward-secret AEAD suites only (no CBC), for ECDSA and RSA certificates, in the
    // server's order (TLS 1.3's suites are all of that kind).
    `ssl_ciphers ${TLS12_CIPHERS.join(':')};`,
    'ssl_prefer_server_ciphers on;',
    'ssl_session_cache shared:chatbot_tls:10m;',
    'ssl_session_timeout 1d;',
    'ssl_session_tickets off;',
    '',
    ...headers,
    '',
    `root ${NGINX_PATHS.webRoot};`,
    '',
    '# Prometheus metrics are for the private network only.',
    location('^~ /metrics', ['return 404;']),
    '',
    swarm
      ? "# The API and its health, on the app service's tasks."
      : '# The API and its health, on the active color.',
    ...proxyDefaults(swarm),
    location('= /health', [toApp]),
    location('^~ /health/', [toApp]),
    '# /v1 is limited per client address (API.md, "Rate limits"); over a limit nginx answers',
    "# 429 itself; the app's own 429s pass through untouched (its errors are not intercepted).",
    `error_page 429 ${EDGE_LIMITED};`,
    location(EDGE_LIMITED, [
      'default_type application/json;',
      ...headers,
      'add_header Retry-After 1 always;',
      `return 429 '{"error":{"code":"rate_limited","message":"too many requests from this address; retry in a second"}}';`,
    ]),
    location('/v1/', edgeLimited(o.edgeLimits, [toApp])),
    '# Replies stream as server-sent events.',
    location('= /v1/chat/completions', edgeLimited(o.edgeLimits, stream)),
    location('~ ^/v1/sessions/[^/]+/messages$', edgeLimited(o.edgeLimits, stream)),
    '# Document uploads to knowledge bases: larger bodies, time to send them.',
    location(
      '~ ^/v1/knowledge-bases/[^/]+/documents$',
      edgeLimited(o.edgeLimits, [
        toApp,
        `client_max_body_size ${(o.uploadMaxBytes ?? DEFAULT_UPLOAD_MAX_BYTES) + MULTIPART_ALLOWANCE_BYTES};`,
        'proxy_send_timeout 300s;',
        'proxy_read_timeout 300s;',
      ]),
    ),
    '',
    ...(swarm
      ? [
          '# The web UI from the web volume, which keeps the content-hashed assets of earlier',
          '# releases for pages loaded before an update.',
        ]
      : [
          '# The web UI from the active color; content-hashed assets may come from the idle color',
          '# too, for pages loaded just before a switch.',
        ]),
    location('/assets/', [
      swarm ? 'try_files $uri =404;' : 'try_files /$chatbot_color$uri /$chatbot_idle_color$uri =404;',
      ...headers,
      'add_header Cache-Control "public, max-age=31536000, immutable" always;',
    ]),
    location('~ /\\.(?!well-known/)', ['return 404;']),
    location('/', [
      swarm
        ? 'try_files $uri /index.html =404;'
        : 'try_files /$chatbot_color$uri /$chatbot_color/index.html =404;',
      ...headers,
      'add_header Cache-Control "no-cache" always;',
    ]),
  ];

  const http = [
    'include /etc/nginx/mime.types;',
    'default_type application/octet-stream;',
    'server_tokens off;',
    '',
    'log_format chatbot escape=json \'{"time":"$time_iso8601","remote":"$remote_addr",\'',
    '    \'"host":"$host","method":"$request_method","uri":"$uri","status":$status,\'',
    '    \'"bytes":$body_bytes_sent,"duration":$request_time,"upstream":"$upstream_addr",\'',
    '    \'"upstream_status":"$upstream_status","request_id":"$request_id"}\';',
    'access_log /dev/stdout chatbot;',
    '',
    'sendfile on;',
    'tcp_nopush on;',
    'keepalive_timeout 65s;',
    `client_max_body_size ${CLIENT_MAX_BODY_SIZE};`,
    `client_body_buffer_size ${CLIENT_MAX_BODY_SIZE};`,
    '',
    "# Per client address (the connection's: nginx is the edge), for /v1.",
    `limit_req_zone $binary_remote_addr zone=${EDGE_RATE_ZONE}:10m rate=${o.edgeLimits.requestsPerSecond}r/s;`,
    `limit_conn_zone $binary_remote_addr zone=${EDGE_CONN_ZONE}:10m;`,
    'limit_req_status 429;',
    'limit_conn_status 429;',
    'limit_req_log_level warn;',
    'limit_conn_log_level warn;',
    '',
    'gzip on;',
    'gzip_vary on;',
    'gzip_proxied any;',
    'gzip_comp_level 5;',
    'gzip_min_length 1024;',
    // text/event-stream stays out: compressing would hold deltas back.
    'gzip_types text/plain text/css text/javascript application/javascript application/json application/manifest+json image/svg+xml;',
    '',
    ...(o.swarmApp !== undefined
      ? [
          "# The app service's tasks through Swarm's DNS (endpoint mode dnsrr: an address per",
          '# running task, no virtual IP). nginx asks again once an answer is older than valid=,',
          '# so a new task gets traffic within that and a stopped one none; a refused connection',
          '# to a task that is stopping goes to the next address (proxy_next_upstream).',
          `resolver ${DOCKER_DNS} valid=${SWARM_DNS_VALID} ipv6=off;`,
          'resolver_timeout 2s;',
          `map $host $chatbot_app { default ${o.swarmApp}; }`,
        ]
      : [
          '# upstream chatbot_app and the $chatbot_color, $chatbot_idle_color and $chatbot_generation',
          '# maps: written by the color switch.',
          `include ${NGINX_PATHS.upstream};`,
        ]),
    '',
    '# The container healthcheck asks this; it is never published.',
    block('server', [
      'listen 127.0.0.1:8081;',
      'access_log off;',
      location('= /nginx-health', ['default_type text/plain;', 'return 200 "ok\\n";']),
      // Which upstream file the workers run: the switch waits until it is the one it wrote.
      ...(swarm
        ? []
        : [location('= /nginx-generation', ['default_type text/plain;', 'return 200 $chatbot_generation;'])]),
    ]),
    '',
    block('server', httpServer),
    '',
    block('server', httpsServer),
  ];

  return [
    `# nginx for the chatbot stack "${o.stack}". Rendered by infra/nginx-config.ts; do not edit here.`,
    'user nginx;',
    'worker_processes auto;',
    'pid /run/nginx.pid;',
    'error_log stderr warn;',
    '',
    block('events', ['worker_connections 4096;']),
    '',
    block('http', http),
    '',
  ].join('\n');
}

/** The upstream file for the active color (what the switch writes). */
export function renderUpstream(o: UpstreamOptions): string {
  if (o.servers.length === 0) throw new Error(`color ${o.color} has no app containers to route to`);
  const idle: Color = o.color === 'blue' ? 'green' : 'blue';
  return [
    `# Active color: ${o.color}. Written by the color switch; nginx -s reload applies it.`,
    'upstream chatbot_app {',
    ...o.servers.map((s) => `    server ${s} max_fails=1 fail_timeout=5s;`),
    '    keepalive 32;',
    // Below the app's idle timeout, so nginx never reuses a connection the app is closing.
    '    keepalive_timeout 4s;',
    '}',
    `map $host $chatbot_color { default ${o.color}; }`,
    `map $host $chatbot_idle_color { default ${idle}; }`,
    `map $host $chatbot_generation { default ${GENERATION_PLACEHOLDER}; }`,
    '',
  ].join('\n');
}

/** The upstream file nginx starts with, before the first switch: nothing to route to yet. */
export function renderBootstrapUpstream(): string {
  return [
    '# No color is active yet: the color switch writes the active color here.',
    'upstream chatbot_app {',
    '    server 127.0.0.1:9 down;',
    '}',
    'map $host $chatbot_color { default none; }',
    'map $host $chatbot_idle_color { default none; }',
    'map $host $chatbot_generation { default bootstrap; }',
    '',
  ].join('\n');
}
