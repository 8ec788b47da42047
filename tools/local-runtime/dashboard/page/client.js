// Browser side of the local dashboard, inlined into the page (no network besides /api/signals).
// Renders one widget per signal from the server's definitions and redraws every second.
// Data is only ever written with textContent and setAttribute, never parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 360;
const HEIGHT = 150;
const PAD = { left: 48, right: 10, top: 10, bottom: 20 };
const POLL_MS = 1000;

/** @type {Map<string, ReturnType<typeof createWidget>>} */
const widgets = new Map();

function html(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatValue(value, unit) {
  if (value === null || value === undefined) return '–';
  if (unit === 'bytes') {
    const gib = value / 1024 ** 3;
    if (Math.abs(gib) >= 1) return `${gib.toFixed(2)} GiB`;
    return `${(value / 1024 ** 2).toFixed(1)} MiB`;
  }
  const digits = Math.abs(value) >= 100 ? 0 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })} ${unit}`;
}

/** Axis labels: short numbers; the unit is in the widget header. */
function compact(value, unit) {
  if (unit === 'bytes') return `${(value / 1024 ** 3).toFixed(1)} GiB`;
  return value.toLocaleString('en-US', { notation: 'compact', maximumFractionDigits: 1 });
}

function describeMetrics(signal) {
  const parts = signal.metrics.map((m) => {
    const dims = Object.entries(m.dimensions)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const name = `${m.namespace} ${m.metricName} (${m.statistic}; ${dims})`;
    return m.id ? `${m.id} = ${name}` : name;
  });
  return signal.expression ? [signal.expression, ...parts].join('\n') : parts.join('\n');
}

function createWidget(signal) {
  const root = html('article', {
    class: 'widget',
    'data-signal-id': signal.id,
    'data-group': signal.group,
    'data-points': 0,
  });
  const head = html('header');
  head.append(
    html('h3', { class: 'title', 'data-role': 'title' }, signal.title),
    html('span', { class: 'unit', 'data-role': 'unit' }, `[${signal.unit}]`),
  );
  const latest = html('p', { class: 'latest', 'data-role': 'latest' }, '–');

  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `${signal.title}: series and alarm thresholds`,
    class: 'chart',
  });
  const frame = svg('rect', {
    x: PAD.left,
    y: PAD.top,
    width: WIDTH - PAD.left - PAD.right,
    height: HEIGHT - PAD.top - PAD.bottom,
    class: 'frame',
  });
  const yMax = svg('text', {
    x: PAD.left - 4,
    y: PAD.top + 8,
    class: 'axis',
    'text-anchor': 'end',
  });
  const yMin = svg('text', {
    x: PAD.left - 4,
    y: HEIGHT - PAD.bottom,
    class: 'axis',
    'text-anchor': 'end',
  });
  const xFrom = svg('text', { x: PAD.left, y: HEIGHT - 4, class: 'axis' });
  const xTo = svg('text', {
    x: WIDTH - PAD.right,
    y: HEIGHT - 4,
    class: 'axis',
    'text-anchor': 'end',
  });
  const thresholds = signal.thresholds.map((t) => {
    const group = svg('g', {
      'data-role': 'threshold',
      'data-threshold': t.value,
      'data-severity': t.severity,
      class: `threshold ${t.severity}`,
    });
    const line = svg('line', { x1: PAD.left, x2: WIDTH - PAD.right });
    const label = svg('text', { x: WIDTH - PAD.right - 2, 'text-anchor': 'end' }, t.label);
    group.append(line, label);
    return { t, group, line, label };
  });
  const series = svg('polyline', { 'data-role': 'series', 'data-points': 0, class: 'series' });
  const last = svg('circle', { r: 2.5, class: 'last', 'data-role': 'last-point' });
  chart.append(frame, yMax, yMin, xFrom, xTo, ...thresholds.map((x) => x.group), series, last);

  const note = html('p', { class: 'note', 'data-role': 'note' });
  const details = html('details');
  details.append(
    html('summary', {}, 'source'),
    html('p', { class: 'description' }, signal.description),
    html('pre', { 'data-role': 'metrics' }, describeMetrics(signal)),
  );
  root.append(head, latest, chart, note, details);
  return { root, latest, chart, yMax, yMin, xFrom, xTo, thresholds, series, last, note };
}

function clock(t) {
  return new Date(t).toLocaleTimeString('en-GB', { hour12: false });
}

function update(widget, signal, snapshot) {
  const values = signal.series.map((p) => p[1]);
  const all = [...values, ...signal.thresholds.map((t) => t.value), 0];
  const lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi === lo) hi = lo + 1;
  hi += (hi - lo) * 0.1;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const span = Math.max(1, snapshot.to - snapshot.from);
  const x = (t) => PAD.left + ((t - snapshot.from) / span) * plotW;
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * plotH;

  const points = signal.series.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
  widget.series.setAttribute('points', points.join(' '));
  widget.series.setAttribute('data-points', signal.series.length);
  widget.root.setAttribute('data-points', signal.series.length);
  const lastPoint = signal.series.at(-1);
  if (lastPoint) {
    widget.last.setAttribute('cx', x(lastPoint[0]).toFixed(1));
    widget.last.setAttribute('cy', y(lastPoint[1]).toFixed(1));
    widget.last.setAttribute('class', 'last');
  } else {
    widget.last.setAttribute('class', 'last hidden');
  }

  for (const th of widget.thresholds) {
    const ty = y(th.t.value).toFixed(1);
    th.line.setAttribute('y1', ty);
    th.line.setAttribute('y2', ty);
    th.label.setAttribute('y', (Number(ty) - 3).toFixed(1));
  }
  widget.yMax.textContent = compact(hi, signal.unit);
  widget.yMin.textContent = compact(lo, signal.unit);
  widget.xFrom.textContent = clock(snapshot.from);
  widget.xTo.textContent = clock(snapshot.to);

  widget.latest.textContent = formatValue(signal.latest, signal.unit);
  widget.root.setAttribute('data-latest', signal.latest === null ? '' : String(signal.latest));
  const breached = signal.thresholds.filter((t) =>
    signal.latest === null
      ? false
      : t.comparison === 'GreaterThanThreshold'
        ? signal.latest > t.value
        : signal.latest < t.value,
  );
  widget.root.setAttribute(
    'data-state',
    breached.some((t) => t.severity === 'critical')
      ? 'critical'
      : breached.length > 0
        ? 'warning'
        : 'ok',
  );
  widget.root.setAttribute('data-origin', signal.local.origin);
  const note =
    signal.local.origin === 'none'
      ? `No local analogue: ${signal.local.detail}`
      : signal.series.length === 0
        ? `Waiting for data: ${signal.local.problem ?? signal.local.detail}`
        : `Local source: ${signal.local.detail}`;
  widget.note.textContent = note;
}

function render(snapshot) {
  document.getElementById('title').textContent = snapshot.title;
  for (const signal of snapshot.signals) {
    let widget = widgets.get(signal.id);
    if (!widget) {
      widget = createWidget(signal);
      widgets.set(signal.id, widget);
      document.querySelector(`.grid[data-group="${signal.group}"]`).append(widget.root);
    }
    update(widget, signal, snapshot);
  }
  const status = document.getElementById('status');
  status.setAttribute('data-state', 'live');
  status.setAttribute('data-generated-at', snapshot.generatedAt);
  status.textContent = `Updated ${clock(snapshot.generatedAt)} · ${snapshot.signals.length} signals · period ${snapshot.periodMs / 1000} s · window ${Math.round(snapshot.windowMs / 60000)} min`;
}

async function poll() {
  try {
    const response = await fetch('/api/signals', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    const status = document.getElementById('status');
    status.setAttribute('data-state', 'error');
    status.textContent = `Cannot reach the local run: ${error instanceof Error ? error.message : error}`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
