// Open an HTML file in headless Chromium through the DevTools protocol (over
// --remote-debugging-pipe: fds 3 and 4) and print one JSON line: the console
// errors and warnings, uncaught exceptions and log entries (CSP violations,
// failed loads), and for every <figure> its rendered size, how many of its SVG
// marks (rect, path, line) have a size, and its table rows. With a second
// argument, a PNG screenshot of the whole page is written there.
//   node tests/lua/report_check.js page.html [shot.png [width [max_height]]]
// Used by tests/lua/report_spec.lua; needs Debian's chromium (CHROMIUM names
// another binary).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [page, shot, widthArg, maxArg] = process.argv.slice(2);
if (!page) {
  process.stderr.write('usage: node report_check.js page.html [shot.png [width]]\n');
  process.exit(2);
}
const width = parseInt(widthArg || '1100', 10);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'calq-chromium-'));
// Chromium starts without the sanitizer runtimes that make asan preloads into
// the specs (and so into node): under them it never answers (60 s, no output), and
// it is not calq's code to check.
const env = { ...process.env };
for (const k of ['LD_PRELOAD', 'ASAN_OPTIONS', 'LSAN_OPTIONS', 'UBSAN_OPTIONS']) delete env[k];
const browser = spawn(process.env.CHROMIUM || 'chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
  '--hide-scrollbars', '--remote-debugging-pipe', `--user-data-dir=${profile}`, 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env });
let stderr = '';
browser.stderr.on('data', (d) => { stderr += d; });

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const waiting = new Map();
const listeners = [];
let buf = Buffer.alloc(0);
fromBrowser.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  let z;
  while ((z = buf.indexOf(0)) >= 0) {
    const msg = JSON.parse(buf.subarray(0, z).toString('utf8'));
    buf = buf.subarray(z + 1);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error))); else resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  const m = { id, method, params };
  if (sessionId) m.sessionId = sessionId;
  toBrowser.write(JSON.stringify(m) + '\0');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

const problems = [];
listeners.push((m) => {
  if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'warning'
      || m.params.type === 'assert')) {
    problems.push(`console.${m.params.type}: ${m.params.args.map((a) => a.value ?? a.description).join(' ')}`);
  } else if (m.method === 'Runtime.exceptionThrown') {
    problems.push(`exception: ${m.params.exceptionDetails.text}`);
  } else if (m.method === 'Log.entryAdded' && (m.params.entry.level === 'error' || m.params.entry.level === 'warning')) {
    problems.push(`log ${m.params.entry.level} (${m.params.entry.source}): ${m.params.entry.text}`);
  }
});

const FIGURES = `JSON.stringify([...document.querySelectorAll('figure')].map((f) => {
  const r = f.getBoundingClientRect();
  const svgs = [...f.querySelectorAll('svg')];
  let marks = 0, area = 0;
  for (const s of svgs) {
    const b = s.getBoundingClientRect();
    area += b.width * b.height;
    marks += [...s.querySelectorAll('rect, path, line')].filter((e) => {
      const bb = e.getBoundingClientRect();
      return bb.width > 0 || bb.height > 0;
    }).length;
  }
  return { id: f.id, missing: f.dataset.missing || null, width: r.width, height: r.height,
           svgs: svgs.length, area, marks, rows: f.querySelectorAll('tbody tr').length,
           caption: (f.querySelector('figcaption') || {}).textContent || '' };
}))`;

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Runtime.enable', {}, sessionId);
  await send('Log.enable', {}, sessionId);
  await send('Page.enable', {}, sessionId);
  await send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loaded = new Promise((resolve) => listeners.push((m) => {
    if (m.method === 'Page.loadEventFired' && m.sessionId === sessionId) resolve();
  }));
  await send('Page.navigate', { url: 'file://' + path.resolve(page) }, sessionId);
  await loaded;
  const ev = await send('Runtime.evaluate', { expression: FIGURES, returnByValue: true }, sessionId);
  const figures = JSON.parse(ev.result.value);
  const title = (await send('Runtime.evaluate', { expression: 'document.title', returnByValue: true }, sessionId)).result.value;
  if (shot) {
    const metrics = await send('Page.getLayoutMetrics', {}, sessionId);
    const full = Math.ceil((metrics.cssContentSize || metrics.contentSize).height);
    const h = maxArg ? Math.min(full, parseInt(maxArg, 10)) : full;
    await send('Emulation.setDeviceMetricsOverride', { width, height: h, deviceScaleFactor: 1, mobile: false }, sessionId);
    const png = await send('Page.captureScreenshot', { format: 'png' }, sessionId);
    fs.writeFileSync(shot, Buffer.from(png.data, 'base64'));
  }
  // let late log entries (a failed load) arrive
  await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(JSON.stringify({ title, problems, figures }) + '\n');
  await send('Browser.close').catch(() => {});
}

const timer = setTimeout(() => {
  process.stderr.write('report_check: no answer from chromium in 60 s\n' + stderr);
  browser.kill('SIGKILL');
  process.exit(1);
}, 60000);
main().then(() => {
  clearTimeout(timer);
  browser.on('exit', () => { fs.rmSync(profile, { recursive: true, force: true }); process.exit(0); });
  setTimeout(() => browser.kill('SIGKILL'), 5000).unref();
}, (e) => {
  process.stderr.write(`report_check: ${e.message}\n${stderr}`);
  browser.kill('SIGKILL');
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(1);
});
