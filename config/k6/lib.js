// Shared by the scenarios: one request to the pipeline. Environment:
//   TARGET   base URL (default http://127.0.0.1:8080)
//   ENDPOINT /pexec (held until the reply) or /hop (202 at once); default /pexec
//   TIMEOUT  client timeout (default 10s); no retries anywhere
import http from 'k6/http';

export const target = __ENV.TARGET || 'http://127.0.0.1:8080';
export const endpoint = __ENV.ENDPOINT || '/pexec';
const timeout = __ENV.TIMEOUT || '10s';

export function call() {
  const corr = `${__VU}-${__ITER}-${Date.now()}`;
  return http.post(`${target}${endpoint}`, JSON.stringify({ work: corr }), {
    headers: { 'Content-Type': 'application/json', 'x-corr-id': corr },
    timeout: timeout,
    tags: { name: endpoint },
  });
}

export function num(name, dflt) {
  const v = __ENV[name];
  return v === undefined || v === '' ? dflt : Number(v);
}
