// serve.mjs - a static file server for the built page, on this machine only.
//
//   node web/serve.mjs [DIR] [PORT]      (defaults: build/web, 8000; PORT 0: any free port)
//
// Listens on 127.0.0.1, answers GET and HEAD for files under DIR with their
// MIME type (application/wasm matters: browsers compile .wasm as it streams
// in only with that type), and refuses paths that leave DIR. Also imported
// by web/browser_test.mjs, which starts it on a free port.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

export function serve(dir, port) {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const send = (code, text) => { res.writeHead(code, { 'content-type': 'text/plain' }); res.end(text + '\n'); };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'only GET and HEAD');
    let path;
    try { path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname); } catch { return send(400, 'bad path'); }
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return send(403, 'outside the served folder');
    let st;
    try { st = statSync(file); } catch { return send(404, `not found: ${path}`); }
    if (!st.isFile()) return send(404, `not a file: ${path}`);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream',
                         'content-length': st.size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] || 'build/web', port = Number(process.argv[3] || 8000);
  try { statSync(join(dir, 'index.html')); } catch {
    console.error(`serve.mjs: no ${join(dir, 'index.html')}: run make web first`);
    process.exit(1);
  }
  serve(dir, port).then((server) => {
    console.log(`serving ${dir} at http://127.0.0.1:${server.address().port}/ (Ctrl-C stops)`);
  }, (e) => { console.error(`serve.mjs: cannot listen on 127.0.0.1:${port}: ${e.message}`); process.exit(1); });
}
