// The one self-contained page: inline CSS and script (the machine may be offline, so nothing
// from a CDN), allowed by a strict Content-Security-Policy that names their SHA-256 hashes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; font-size: 14px; }
body { margin: 0; background: #f2f3f3; color: #16191f; }
body > header { padding: 12px 20px; background: #232f3e; color: #fff; }
body > header h1 { margin: 0; font-size: 18px; }
#status { margin: 4px 0 0; color: #d5dbdb; }
#status[data-state="error"] { color: #ff9f9f; }
main { padding: 12px 20px; }
main h2 { font-size: 16px; margin: 12px 0 8px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
.widget { background: #fff; border: 1px solid #d5dbdb; border-radius: 4px; padding: 8px 10px; }
.widget[data-state="warning"] { border-color: #ff9900; }
.widget[data-state="critical"] { border-color: #d13212; }
.widget header { display: flex; gap: 6px; align-items: baseline; }
.widget h3 { margin: 0; font-size: 14px; }
.unit { color: #545b64; font-size: 12px; }
.latest { margin: 4px 0; font-size: 20px; font-weight: 600; }
.chart { width: 100%; height: auto; display: block; }
.frame { fill: #fafafa; stroke: #eaeded; }
.axis { font-size: 9px; fill: #687078; }
.series { fill: none; stroke: #0073bb; stroke-width: 1.5; }
.last { fill: #0073bb; }
.hidden { display: none; }
.threshold line { stroke-width: 1; stroke-dasharray: 4 3; }
.threshold text { font-size: 9px; }
.threshold.critical line { stroke: #d13212; }
.threshold.critical text { fill: #d13212; }
.threshold.warning line { stroke: #ff9900; }
.threshold.warning text { fill: #b36b00; }
.note { margin: 4px 0; color: #545b64; font-size: 12px; }
.widget[data-origin="none"] .note { color: #8d6605; }
details { font-size: 12px; color: #545b64; }
pre { white-space: pre-wrap; margin: 4px 0; }
`;

// A plain .js file so Biome lints it; tsconfig has no DOM types for the rest of the repo.
const SCRIPT = readFileSync(join(__dirname, 'client.js'), 'utf8');

const hash = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Only the inline script and style above, and fetches to this origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page never contains data: widgets are built in the browser from /api/signals. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1 id="title">Local dashboard</h1><p id="status" data-state="loading">Loading…</p></header>
<main>
<section aria-labelledby="pipeline-heading"><h2 id="pipeline-heading">Pipeline</h2><div class="grid" data-group="pipeline"></div></section>
<section aria-labelledby="infrastructure-heading"><h2 id="infrastructure-heading">Infrastructure</h2><div class="grid" data-group="infrastructure"></div></section>
</main>
<script type="module">${SCRIPT}</script>
</body>
</html>
`;
