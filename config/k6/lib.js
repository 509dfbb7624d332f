// Shared by the scenarios: one request to the pipeline. Environment:
//   TARGET   base URL (default http://127.0.0.1:8080)
//   ENDPOINT /pexec (held until the reply) or /hop (202 at once); default /pexec
//   TIMEOUT  client timeout (default 10s); no retries anywhere
//   PAUSE    seconds an arrival-rate iteration sleeps after its request (default 0), as many
//            scripts do: k6 still schedules the iterations, each VU just stays busy longer
import http from 'k6/http';
import { sleep } from 'k6';

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

// The sleep many arrival-rate scripts end their iteration with (PAUSE seconds; none by default).
export function pause() {
  const s = num('PAUSE', 0);
  if (s > 0) {
    sleep(s);
  }
}
